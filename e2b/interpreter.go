package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// This file speaks to the code interpreter on InterpreterPort: health,
// streamed executions (POST /execute) and contexts.

// OutputMessage is one chunk of output a running execution printed.
type OutputMessage struct {
	// Line is the text as the interpreter sent it (usually ending in "\n").
	Line string
	// Timestamp is when the interpreter saw it; zero if it did not say.
	Timestamp time.Time
	// Error is true for stderr, false for stdout.
	Error bool
}

// Result is one rich result of an execution: the value of the cell's last
// expression (IsMainResult) or something it displayed. Each field holds one
// representation, empty or nil when absent; PNG, JPEG and PDF are base64.
type Result struct {
	// IsMainResult is true for the value of the cell's last expression and
	// false for something the code displayed.
	IsMainResult bool
	Text         string // text/plain
	// HTML is the text/html representation.
	HTML string
	// Markdown is the text/markdown representation.
	Markdown string
	// SVG is the image/svg+xml representation.
	SVG  string
	PNG  string // base64
	JPEG string // base64
	PDF  string // base64
	// LaTeX is the text/latex representation.
	LaTeX string
	// JSON is the application/json representation as the interpreter sent
	// it: an object (map[string]any), an array ([]any), a string, a float64
	// or a bool, as encoding/json decodes into an any. nil when absent or
	// null.
	JSON any
	// JavaScript is the application/javascript representation.
	JavaScript string
	// Data is a tabular representation, such as a pandas DataFrame.
	Data map[string]any
	// Chart is E2B's structured description of a plotted chart.
	Chart map[string]any
	// Extra holds any other representations, keyed by name.
	Extra map[string]any
}

// Formats lists the representations the result has, in a fixed order:
// text, html, markdown, svg, png, jpeg, pdf, latex, json, javascript, data,
// chart, then the keys of Extra in no particular order.
func (r Result) Formats() []string {
	var out []string
	add := func(name string, present bool) {
		if present {
			out = append(out, name)
		}
	}
	add("text", r.Text != "")
	add("html", r.HTML != "")
	add("markdown", r.Markdown != "")
	add("svg", r.SVG != "")
	add("png", r.PNG != "")
	add("jpeg", r.JPEG != "")
	add("pdf", r.PDF != "")
	add("latex", r.LaTeX != "")
	add("json", r.JSON != nil)
	add("javascript", r.JavaScript != "")
	add("data", r.Data != nil)
	add("chart", r.Chart != nil)
	for k := range r.Extra {
		out = append(out, k)
	}
	return out
}

// Logs is the output an execution printed, in order, one entry per chunk.
type Logs struct {
	// Stdout holds the chunks written to standard output; nil when none.
	Stdout []string
	// Stderr holds the chunks written to standard error; nil when none.
	Stderr []string
}

// ExecutionError is an exception the executed code raised. It is a result of
// the execution, not a failure to execute: RunCode returns it in
// Execution.Error with a nil error, and trying the code again will not help.
type ExecutionError struct {
	Name  string // such as "ZeroDivisionError"
	Value string // such as "division by zero"
	// Traceback is the formatted traceback as the interpreter sent it,
	// possibly with ANSI colour codes.
	Traceback string
}

// Execution is what RunCode returns: the output, results and error of one
// execution. RunCode does not touch it once it has returned, so it is safe to
// read from multiple goroutines.
type Execution struct {
	// Logs is everything the code printed, in order.
	Logs Logs
	// Results are the rich results in the order they were produced; empty
	// when there were none.
	Results []Result
	// Error is set when the code raised; nil otherwise.
	Error *ExecutionError
	// ExecutionCount is the cell's number in its context, as in Jupyter.
	ExecutionCount int
}

// Text returns the text of the main result, or "" when there is none.
func (e *Execution) Text() string {
	for _, r := range e.Results {
		if r.IsMainResult {
			return r.Text
		}
	}
	return ""
}

// RunCodeOptions configures RunCode. The zero value runs Python in the default
// context with DefaultExecutionTimeout.
type RunCodeOptions struct {
	// Language is the language to run, such as "python" (the interpreter's
	// default), "javascript", "typescript", "r", "java" or "bash"; it runs in
	// that language's default context. It cannot be combined with ContextID.
	Language string
	// ContextID runs the code in a context made by CreateContext.
	ContextID string
	// EnvVars are set for this execution only.
	EnvVars map[string]string
	// OnStdout, OnStderr, OnResult and OnError, when not nil, are called in the
	// calling goroutine as the interpreter streams each item, in order, before
	// RunCode returns.
	OnStdout func(OutputMessage)
	// OnStderr receives each chunk of standard error.
	OnStderr func(OutputMessage)
	// OnResult receives each rich result.
	OnResult func(Result)
	// OnError receives the exception the code raised, if any.
	OnError func(ExecutionError)
	// Timeout bounds the whole execution; zero means DefaultExecutionTimeout.
	// Negative is an error.
	Timeout time.Duration
}

// RunCode runs code in the sandbox's code interpreter (POST /execute) and
// returns its execution. The code raising an exception is not an error: see
// Execution.Error.
//
// The answer is streamed; callbacks run as lines arrive. The wait for the
// answer to start is bounded by the request timeout, the whole execution by
// opts.Timeout and ctx, and never by an HTTP client timeout. Cancelling ctx or
// reaching the timeout closes the connection, which interrupts the running
// code; RunCode then returns ctx's error or an error matching
// ErrExecutionTimeout. Once the answer has begun, the execution so far is
// returned alongside any error; before that, the Execution is nil.
//
// Errors: *APIError for an error answer (ErrPortNotOpen while the interpreter
// is still starting), *TransportError when the request never got through, and
// ErrExecutionInterrupted when the stream broke after the request was sent:
// the code may have run, so it is not transient.
func (s *Sandbox) RunCode(ctx context.Context, code string, opts RunCodeOptions) (*Execution, error) {
	const op = "run code"
	if opts.Language != "" && opts.ContextID != "" {
		return nil, fmt.Errorf("e2b: %s: Language and ContextID are mutually exclusive", op)
	}
	timeout := opts.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("e2b: %s: Timeout must be >= 0 (0 means %s), got %s", op, DefaultExecutionTimeout, timeout)
	}
	if timeout == 0 {
		timeout = DefaultExecutionTimeout
	}
	body, err := json.Marshal(wire.ExecuteRequest{Code: code, ContextID: opts.ContextID, Language: opts.Language, EnvVars: opts.EnvVars})
	if err != nil {
		return nil, fmt.Errorf("e2b: %s: encoding the request: %w", op, err)
	}

	execErr := &timeoutError{op: op, timeout: timeout}
	var execCtx context.Context
	var cancel context.CancelFunc
	if endsFirst(ctx, timeout) {
		execCtx, cancel = context.WithTimeoutCause(ctx, timeout, execErr)
	} else {
		execCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	var sent atomic.Bool
	req, err := s.newRequest(execCtx, InterpreterPort, http.MethodPost, "/execute", nil, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("e2b: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")

	resp, release, err := sendStreaming(execCtx, s.c.sandboxHTTP, req, s.c.cfg.requestTimeout, &sent, op, s.red)
	if err != nil {
		return nil, s.executionFailure(ctx, execCtx, op, err, sent.Load())
	}
	defer release()
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(op, resp, s.target(InterpreterPort), s.red)
	}
	exec, err := decodeExecution(resp.Body, executionHandlers{
		onStdout: opts.OnStdout,
		onStderr: opts.OnStderr,
		onResult: opts.OnResult,
		onError:  opts.OnError,
	}, s.red)
	if err != nil {
		return exec, s.executionFailure(ctx, execCtx, op, err, true)
	}
	return exec, nil
}

// executionFailure picks the error of an execution that failed: ctx's error
// when the caller ended it, the timeout when it ran out, and otherwise, once
// the request was sent, ErrExecutionInterrupted (unless the failure already is
// one, or an answer, or a refused connection, which proves nothing ran).
func (s *Sandbox) executionFailure(ctx, execCtx context.Context, op string, err error, sent bool) error {
	if ctx.Err() != nil {
		return contextFailure(ctx, op)
	}
	var te *timeoutError
	if errors.As(context.Cause(execCtx), &te) {
		return te
	}
	if !sent || errors.Is(err, ErrExecutionInterrupted) || errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return err
	}
	return newInterruptedError(op, "the connection failed after the code was sent", err, s.red)
}

// InterpreterHealth checks that the code interpreter answers (GET /health on
// InterpreterPort). While it is still starting the error matches
// ErrPortNotOpen.
func (s *Sandbox) InterpreterHealth(ctx context.Context) error {
	return s.call(ctx, "interpreter health", InterpreterPort, http.MethodGet, "/health", nil, nil)
}

// ContextInfo describes an interpreter context.
type ContextInfo struct {
	// ID identifies the context in RunCodeOptions.ContextID and in
	// RemoveContext and RestartContext.
	ID string
	// Language is the context's language, e.g. "python".
	Language string
	// Cwd is the context's working directory.
	Cwd string
}

// CreateContext creates an interpreter context (POST /contexts): its own
// kernel, whose state persists across the RunCode calls that name it.
// language "" means Python; cwd "" means the interpreter's default
// (/home/user).
func (s *Sandbox) CreateContext(ctx context.Context, language, cwd string) (*ContextInfo, error) {
	var info wire.ContextInfo
	err := s.call(ctx, "create context", InterpreterPort, http.MethodPost, "/contexts",
		wire.CreateContextRequest{Language: language, Cwd: cwd}, &info)
	if err != nil {
		return nil, err
	}
	out := ContextInfo(info)
	return &out, nil
}

// ListContexts lists the interpreter's contexts (GET /contexts).
func (s *Sandbox) ListContexts(ctx context.Context) ([]ContextInfo, error) {
	var infos []wire.ContextInfo
	if err := s.call(ctx, "list contexts", InterpreterPort, http.MethodGet, "/contexts", nil, &infos); err != nil {
		return nil, err
	}
	out := make([]ContextInfo, len(infos))
	for k, info := range infos {
		out[k] = ContextInfo(info)
	}
	return out, nil
}

// RemoveContext removes an interpreter context and its kernel (DELETE
// /contexts/{id}). An unknown context is an error matching ErrNotFound.
func (s *Sandbox) RemoveContext(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("e2b: remove context: empty context ID")
	}
	return s.call(ctx, "remove context", InterpreterPort, http.MethodDelete, "/contexts/"+url.PathEscape(id), nil, nil)
}

// RestartContext restarts an interpreter context's kernel, clearing its state
// (POST /contexts/{id}/restart). An unknown context is an error matching
// ErrNotFound.
func (s *Sandbox) RestartContext(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("e2b: restart context: empty context ID")
	}
	return s.call(ctx, "restart context", InterpreterPort, http.MethodPost, "/contexts/"+url.PathEscape(id)+"/restart", nil, nil)
}
