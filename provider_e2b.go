package tta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// E2B is the default provider: NewCodeExecution without WithProvider makes an
// e2b.Client from the environment (E2B_API_KEY, E2B_DOMAIN, ...), and
// WithE2BClient passes one explicitly.

// createCleanupTimeout bounds the search for, and kill of, a sandbox that a
// failed Create may have left behind.
const createCleanupTimeout = 15 * time.Second

// metadataCreateToken labels each sandbox with a token unique to its Create
// call, so that one created by a call that failed can still be found.
const metadataCreateToken = "tta.create"

// WithE2BClient makes NewCodeExecution run sandboxes on E2B through c (see
// NewE2BProvider). Use it for a client with options of its own (domain,
// request timeout, HTTP client); the primitive does not close c. WithE2BClient
// panics if c is nil.
func WithE2BClient(c *e2b.Client) Option {
	if c == nil {
		misuse("WithE2BClient", "client is nil; pass a client made by e2b.NewClient, or omit the option to use E2B_API_KEY")
	}
	p := NewE2BProvider(c)
	return func(cfg *codeConfig) { cfg.provider = p }
}

// providerFromEnv returns the provider NewCodeExecution uses when none is
// given: E2B, configured from the environment, and the function that releases
// the client's connections on Close.
func providerFromEnv() (Provider, func(), error) {
	c, err := e2b.NewClient()
	if errors.Is(err, e2b.ErrNoAPIKey) {
		return nil, nil, fmt.Errorf("%w: set E2B_API_KEY to run code on E2B (keys are at https://e2b.dev/dashboard?tab=keys), or give NewCodeExecution WithE2BClient or WithProvider (ttatest.NewFakeProvider in tests)", ErrNoProvider)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tta: NewCodeExecution: configuring E2B from the environment: %w", err)
	}
	return NewE2BProvider(c), c.CloseIdleConnections, nil
}

// NewE2BProvider returns a Provider that runs sandboxes on E2B through c.
//
// Sandboxes are created by Template.Ref (the ID when set, E2B resolving an ID
// faster than a name) with the request's timeout and metadata, plus a
// "tta.create" label unique to the call: when Create fails in a way that
// leaves it unknown whether E2B created the sandbox (the connection broke,
// ctx ended, a 5xx answer that a gateway may send while the control plane
// goes on), the provider lists sandboxes with that label and kills them,
// with its own 15 s bound, before returning the error.
//
// Probe is the interpreter's health check: E2B's 502 "The sandbox is running
// but port is not open" is transient. Errors keep package e2b's
// classification (Transient, RetryAfter); those that say the sandbox is gone
// also match ErrSandboxGone. RunCode without a timeout, and RunCommand, are
// bounded by ctx's deadline (one hour without one) instead of package e2b's
// shorter defaults, so that a long pip install is not cut short.
//
// The Provider is safe for concurrent use.
func NewE2BProvider(c *e2b.Client) Provider {
	if c == nil {
		misuse("NewE2BProvider", "client is nil; pass a client made by e2b.NewClient")
	}
	return e2bProvider{c: c}
}

type e2bProvider struct{ c *e2b.Client }

func (p e2bProvider) Create(ctx context.Context, req CreateRequest) (Sandbox, error) {
	token := newCreateToken()
	md := make(map[string]string, len(req.Metadata)+1)
	for k, v := range req.Metadata {
		md[k] = v
	}
	md[metadataCreateToken] = token
	var internet *bool
	if req.Network.NoInternet {
		internet = new(false)
	}
	sb, err := p.c.Create(ctx, e2b.CreateOptions{Template: req.Template.Ref(), Timeout: req.Timeout, Metadata: md,
		AllowInternetAccess: internet, AllowOut: req.Network.AllowOut, DenyOut: req.Network.DenyOut,
		// Secured like the official SDKs' sandboxes: envd (files, commands)
		// then answers only with the access token the client keeps.
		Secure: true})
	if err != nil {
		if mayHaveCreated(err) {
			p.cleanupCreate(ctx, token)
		}
		return nil, e2bError(err)
	}
	return e2bSandbox{sb: sb}, nil
}

// mayHaveCreated reports whether a Create that failed with err may still have
// made a sandbox: when no answer came (the connection broke, ctx ended), and
// when the answer was a server error, which a gateway may send while the
// control plane behind it goes on creating.
func mayHaveCreated(err error) bool {
	apiErr, answered := errors.AsType[*e2b.APIError](err)
	return !answered || apiErr.StatusCode >= 500
}

// cleanupCreate kills the sandboxes labelled with token: those a failed Create
// may have made.
func (p e2bProvider) cleanupCreate(ctx context.Context, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createCleanupTimeout)
	defer cancel()
	page, err := p.c.List(ctx, e2b.ListOptions{Metadata: map[string]string{metadataCreateToken: token}})
	if err != nil {
		return
	}
	for _, info := range page.Sandboxes {
		_, _ = p.c.Kill(ctx, info.ID)
	}
}

// newCreateToken returns a random label for one Create call.
func newCreateToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type e2bSandbox struct{ sb *e2b.Sandbox }

func (s e2bSandbox) ID() string { return s.sb.ID() }

// InterpreterPort returns the port of E2B's code interpreter.
func (s e2bSandbox) InterpreterPort() int { return e2b.InterpreterPort }

func (s e2bSandbox) Probe(ctx context.Context) error {
	return e2bError(s.sb.InterpreterHealth(ctx))
}

func (s e2bSandbox) RunCode(ctx context.Context, req RunRequest) (Execution, error) {
	opts := e2b.RunCodeOptions{EnvVars: req.EnvVars, Timeout: boundedBy(ctx, req.Timeout)}
	if req.ContextID != "" {
		opts.ContextID = req.ContextID
	} else {
		opts.Language = req.Language
	}
	if req.OnStdout != nil {
		opts.OnStdout = func(m e2b.OutputMessage) { req.OnStdout(m.Line) }
	}
	if req.OnStderr != nil {
		opts.OnStderr = func(m e2b.OutputMessage) { req.OnStderr(m.Line) }
	}
	exec, err := s.sb.RunCode(ctx, req.Code, opts)
	return executionFromE2B(exec), e2bError(err)
}

func (s e2bSandbox) CreateContext(ctx context.Context, language string) (string, error) {
	info, err := s.sb.CreateContext(ctx, language, "")
	if err != nil {
		return "", e2bError(err)
	}
	return info.ID, nil
}

func (s e2bSandbox) RunCommand(ctx context.Context, cmd string) (CommandResult, error) {
	res, err := s.sb.RunCommand(ctx, cmd, e2b.CommandOptions{Timeout: boundedBy(ctx, 0)})
	if err != nil {
		return CommandResult{}, e2bError(err)
	}
	return CommandResult{ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr}, nil
}

func (s e2bSandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	_, err := s.sb.WriteFile(ctx, path, data)
	return e2bError(err)
}

func (s e2bSandbox) ReadFile(ctx context.Context, path string) ([]byte, error) {
	data, err := s.sb.ReadFile(ctx, path)
	return data, fileError(err)
}

func (s e2bSandbox) ListDir(ctx context.Context, path string) ([]FileInfo, error) {
	entries, err := s.sb.ListDir(ctx, path)
	if err != nil {
		return nil, fileError(err)
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		out = append(out, FileInfo{Name: e.Name, Path: e.Path, Dir: e.Type == e2b.FileTypeDir, Size: e.Size})
	}
	return out, nil
}

func (s e2bSandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	return e2bError(s.sb.SetTimeout(ctx, d))
}

func (s e2bSandbox) Kill(ctx context.Context) error {
	_, err := s.sb.Kill(ctx)
	return e2bError(err)
}

// boundedBy returns d when > 0, otherwise the time left before ctx's
// deadline, or an hour without one: package e2b's zero means its own, shorter
// default.
func boundedBy(ctx context.Context, d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left > 0 {
			return left
		}
		return time.Millisecond // ctx is about to end anyway
	}
	return time.Hour
}

// e2bError returns err, made to match ErrSandboxGone when package e2b says the
// sandbox is gone; nil stays nil.
func e2bError(err error) error {
	if err != nil && errors.Is(err, e2b.ErrSandboxNotFound) {
		return &goneError{err: err}
	}
	return err
}

// fileError is e2bError for file operations: a missing path, which package
// e2b reports as ErrNotFound, also matches ErrFileNotFound.
func fileError(err error) error {
	if err != nil && errors.Is(err, e2b.ErrNotFound) && !errors.Is(err, e2b.ErrSandboxNotFound) {
		return fmt.Errorf("%w: %w", ErrFileNotFound, err)
	}
	return e2bError(err)
}

// goneError is an error of package e2b about a sandbox that is gone. It
// matches ErrSandboxGone and unwraps to the original, which keeps deciding
// Transient (false).
type goneError struct{ err error }

func (e *goneError) Error() string        { return e.err.Error() }
func (e *goneError) Unwrap() error        { return e.err }
func (e *goneError) Is(target error) bool { return target == ErrSandboxGone }

// NotStarted reports true: package e2b says a sandbox is gone only in an
// answer to the request, so the request did nothing; a sandbox lost while its
// code ran breaks the stream instead (e2b.ErrExecutionInterrupted).
func (e *goneError) NotStarted() bool { return true }

// executionFromE2B converts package e2b's execution, possibly partial or nil.
func executionFromE2B(exec *e2b.Execution) Execution {
	if exec == nil {
		return Execution{}
	}
	out := Execution{
		Stdout:         strings.Join(exec.Logs.Stdout, ""),
		Stderr:         strings.Join(exec.Logs.Stderr, ""),
		ExecutionCount: exec.ExecutionCount,
	}
	for _, r := range exec.Results {
		out.Results = append(out.Results, resultFromE2B(r))
	}
	if e := exec.Error; e != nil {
		out.Error = &ExecutionError{Name: e.Name, Value: e.Value, Traceback: e.Traceback}
	}
	return out
}

// resultFromE2B maps each representation to its MIME type; the interpreter's
// data and chart payloads become JSON under "application/vnd.e2b.data+json"
// and "application/vnd.e2b.chart+json", and its extra ones, keyed by MIME
// type already, keep their key (a string as it is, anything else as JSON).
func resultFromE2B(r e2b.Result) Result {
	out := Result{IsMain: r.IsMainResult, Text: r.Text}
	set := func(mime, v string) {
		if v == "" {
			return
		}
		if out.Data == nil {
			out.Data = make(map[string]string)
		}
		out.Data[mime] = v
	}
	setJSON := func(mime string, v any) {
		if v == nil {
			return
		}
		if b, err := json.Marshal(v); err == nil {
			set(mime, string(b))
		}
	}
	set("text/html", r.HTML)
	set("text/markdown", r.Markdown)
	set("image/svg+xml", r.SVG)
	set("image/png", r.PNG)
	set("image/jpeg", r.JPEG)
	set("application/pdf", r.PDF)
	set("text/latex", r.LaTeX)
	set("application/javascript", r.JavaScript)
	if r.JSON != nil {
		setJSON("application/json", r.JSON)
	}
	if r.Data != nil {
		setJSON("application/vnd.e2b.data+json", r.Data)
	}
	if r.Chart != nil {
		setJSON("application/vnd.e2b.chart+json", r.Chart)
	}
	for mime, v := range r.Extra {
		if s, ok := v.(string); ok {
			set(mime, s)
		} else {
			setJSON(mime, v)
		}
	}
	return out
}
