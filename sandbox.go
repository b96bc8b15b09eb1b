package tta

import (
	"context"
	"time"
)

// Provider creates sandboxes: isolated machines with a code interpreter, such
// as E2B's. CodeExecutionPrimitive and Session reach sandboxes only through
// Provider and Sandbox, so any backend can stand behind them: E2B (the
// default, see NewCodeExecution), the in-memory fake of package ttatest, or
// one of your own.
//
// Error contract, for every method of Provider and Sandbox: an error that is
// a TransientError reporting true (IsTransient) means the operation did not
// happen and may succeed if tried again (the interpreter port is not open
// yet, the connection was refused, the service is rate limiting); false means
// trying again is futile (unauthorized, template unknown). A RetryAfterError
// sets how long Retry waits. An error for a sandbox that no longer exists
// must match ErrSandboxGone with errors.Is and must not be transient.
// Implementations honour ctx and return an error wrapping ctx's error when it
// ends first.
//
// Implementations must be safe for concurrent use.
type Provider interface {
	// Create starts a sandbox from req.Template and returns it as soon as it
	// exists; its code interpreter may not answer yet (see Sandbox.Probe). On
	// error no sandbox is left running.
	Create(ctx context.Context, req CreateRequest) (Sandbox, error)
}

// CreateRequest describes the sandbox to create. It is a plain value.
type CreateRequest struct {
	// Template is the template to start, by ID or by name (see Template.Ref).
	Template Template
	// Timeout is the sandbox's lifetime from now: the provider ends it then
	// unless SetTimeout extends it. It is always > 0 when set by this package.
	Timeout time.Duration
	// Metadata labels the sandbox, for listing and billing. It may be nil.
	Metadata map[string]string
	// Network is the sandbox's outbound network access; the zero value is
	// the provider's default. A provider that cannot enforce it must fail
	// rather than give the sandbox more network than it allows.
	Network Network
}

// Sandbox is one running sandbox, as a Provider created it. The primitives of
// this package kill every Sandbox they create (see CodeExecutionPrimitive).
// Every method follows the error contract described on Provider.
//
// Implementations must be safe for concurrent use.
type Sandbox interface {
	// ID returns the sandbox's identifier.
	ID() string

	// InterpreterPort returns the network port the code interpreter listens
	// on inside the sandbox (E2B's is InterpreterPort), or 0 when it has
	// none; a *TemplateNotReadyError names it.
	InterpreterPort() int

	// Probe checks once, without waiting, whether the code interpreter
	// answers. It returns nil when it does and a transient error while its
	// port is not open or the connection is refused; the primitive waits those
	// out within the template's init window. Any other error ends the wait at
	// once.
	Probe(ctx context.Context) error

	// RunCode runs code in the interpreter. The code's own error is a result
	// (Execution.Error), not a Go error. A returned error must be transient
	// only when the code certainly did not start (the request never reached
	// the interpreter); an error after the code may have started must not be,
	// since running it again could repeat its side effects. A terminal error
	// that proves the code did not start (the sandbox was gone before the
	// request reached it) may say so with a NotStartedError reporting true;
	// the primitive then lets a stateless call whose sandbox was gone try
	// again in a fresh one. Without it, a terminal error counts as a run that
	// may have started.
	RunCode(ctx context.Context, req RunRequest) (Execution, error)

	// CreateContext creates an interpreter context for language (its own
	// variables and imports) and returns its ID, for RunRequest.ContextID.
	CreateContext(ctx context.Context, language string) (string, error)

	// RunCommand runs cmd with a shell inside the sandbox (bash -l -c cmd)
	// and waits for it to exit, for as long as ctx allows. A command that
	// exits with a non-zero status is a result, not an error.
	RunCommand(ctx context.Context, cmd string) (CommandResult, error)

	// WriteFile writes data to path inside the sandbox, creating parent
	// directories as needed. A relative path is relative to the user's home.
	WriteFile(ctx context.Context, path string, data []byte) error

	// SetTimeout makes the sandbox live d from now.
	SetTimeout(ctx context.Context, d time.Duration) error

	// Kill ends the sandbox. Killing a sandbox that is already gone is not an
	// error.
	Kill(ctx context.Context) error
}

// RunRequest is the code to run and how, for Sandbox.RunCode. It is a plain
// value.
type RunRequest struct {
	// Code is the source to run.
	Code string
	// Language is the interpreter's language: "python", "javascript",
	// "typescript", "bash", "r" or "java" (which ones a template has is the
	// template's business). Never empty when set by this package.
	Language string
	// ContextID selects the interpreter context made by CreateContext; empty
	// selects the language's default context. When it is set, Language names
	// the context's language.
	ContextID string
	// EnvVars are environment variables for this run only. It may be nil.
	EnvVars map[string]string
	// Timeout bounds the run inside the sandbox; 0 means the provider's
	// default. ctx bounds it as well.
	Timeout time.Duration
	// OnStdout and OnStderr, when not nil, receive output as it arrives.
	OnStdout func(text string)
	OnStderr func(text string)
}

// Execution is what RunCode reports: the output of a run and, if the code
// raised, its error. It is a plain value.
type Execution struct {
	// Stdout and Stderr are everything the code printed, concatenated.
	Stdout string
	Stderr string
	// Results are the values the code displayed, the last expression's value
	// (IsMain) included.
	Results []Result
	// Error is set when the code raised.
	Error *ExecutionError
	// ExecutionCount is the interpreter's execution counter after the run.
	ExecutionCount int
}

// Result is one value the code displayed, in every representation the
// interpreter produced. It is a plain value.
type Result struct {
	// IsMain reports whether this is the value of the cell's last expression.
	IsMain bool
	// Text is the text/plain representation ("" if none).
	Text string
	// Data holds the other representations by MIME type. Text ones as they
	// are: "text/html", "text/markdown", "text/latex", "image/svg+xml",
	// "application/javascript". Binary ones base64-encoded, as the
	// interpreter sends them: "image/png", "image/jpeg", "application/pdf".
	// JSON: "application/json", and E2B's own "application/vnd.e2b.data+json"
	// (a DataFrame's data) and "application/vnd.e2b.chart+json" (a chart
	// extracted from a plot). Any other type the interpreter sent is kept
	// under its own key, a string as it is, anything else as JSON. It may be
	// nil.
	Data map[string]string
}

// CommandResult is what RunCommand reports. It is a plain value.
type CommandResult struct {
	// ExitCode is the command's exit status.
	ExitCode int
	// Stdout and Stderr are the command's output.
	Stdout string
	Stderr string
}
