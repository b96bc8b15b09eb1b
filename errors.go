package tta

import "errors"

// Sentinel errors. Each is matched with errors.Is; the errors actually returned
// usually wrap them with more detail (which primitive, how long, how many tries).
var (
	// ErrTimeout is returned by Timeout when its own deadline expired before the
	// wrapped primitive finished. The returned error also matches
	// context.DeadlineExceeded, but not when the caller's context ended first.
	ErrTimeout = errors.New("tta: timeout")

	// ErrCircuitOpen is returned by CircuitBreaker while the circuit is open (or
	// half-open with its trial calls in flight): the call was not attempted.
	ErrCircuitOpen = errors.New("tta: circuit open")

	// ErrBulkheadFull is returned by Bulkhead when a call could not get a slot:
	// the wait queue was full, or the wait timeout passed.
	ErrBulkheadFull = errors.New("tta: bulkhead full")

	// ErrNoRoute is returned by Router when no route matches the input and no
	// default was given.
	ErrNoRoute = errors.New("tta: no route")

	// ErrTemplateNotReady is returned by CodeExecutionPrimitive and Session when
	// a sandbox was created but its code interpreter did not answer within the
	// template's init window. The error is a *TemplateNotReadyError; it is
	// terminal (not retried by Retry) and the sandbox has been killed.
	ErrTemplateNotReady = errors.New("tta: template not ready")

	// ErrSandboxGone is returned by CodeExecutionPrimitive and Session when the
	// sandbox no longer exists: it expired, was killed elsewhere, or the
	// provider lost it. A Session's error is then a *SessionLostError saying
	// what was lost; it never replaces a gone sandbox silently: it returns
	// that error on every later call, or, with WithRecreateSessions, starts
	// over at the next call and says so in CodeOutput.StateReset. Providers
	// return errors matching it for sandboxes that are gone.
	ErrSandboxGone = errors.New("tta: sandbox gone")

	// ErrClosed is returned by CodeExecutionPrimitive and Session when they are
	// used after Close, and by calls that Close interrupted.
	ErrClosed = errors.New("tta: code execution closed")

	// ErrCodeFailed is returned by CodeExecutionPrimitive and Session, with
	// WithCodeErrorsAsErrors, when the code ran and raised an error. The error
	// unwraps to the *ExecutionError of the output; it is marked Permanent,
	// never retried.
	ErrCodeFailed = errors.New("tta: code raised an error")

	// ErrCodeTimeout is returned by CodeExecutionPrimitive and Session when the
	// code ran longer than CodeInput.Timeout. It also matches
	// context.DeadlineExceeded and is never retried: the code had started.
	ErrCodeTimeout = errors.New("tta: code timeout")

	// ErrNoProvider is returned by NewCodeExecution when no provider was given
	// and none is configured in the environment (E2B_API_KEY is not set).
	ErrNoProvider = errors.New("tta: no sandbox provider")

	// ErrStreamLost is returned by CodeExecutionPrimitive and Session when the
	// stream of a run broke (the network was cut, a proxy's deadline passed)
	// while its sandbox stayed alive: the code may still be running there.
	// The error is a *StreamLostError naming the sandbox and the interpreter
	// context; it is never retried, since the code had started.
	ErrStreamLost = errors.New("tta: execution stream lost")

	// ErrFileNotFound is returned by Session.ReadFile and Session.ListFiles
	// when the path does not exist in the sandbox. Providers' FileSystem
	// sandboxes return errors matching it for missing paths.
	ErrFileNotFound = errors.New("tta: no such file or directory")
)
