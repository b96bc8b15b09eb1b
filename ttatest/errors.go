package ttatest

import (
	"errors"
	"fmt"

	"github.com/tta-dev/tta"
)

// Errors the fake returns. Match them with errors.Is.
var (
	// ErrPortNotOpen is returned by a sandbox's interpreter operations (Probe,
	// RunCode, CreateContext) while its port is not open: before the
	// template's ReadyAfter, or forever with NeverReady. It comes wrapped in a
	// transient error, as E2B's 502 "The sandbox is running but port is not
	// open" is.
	ErrPortNotOpen = errors.New("ttatest: the sandbox is running but port is not open")

	// ErrConnectionRefused is a transient error for faults: the connection to
	// the sandbox was refused. Use it as Fault{Err: Transient(ErrConnectionRefused)}.
	ErrConnectionRefused = errors.New("ttatest: connection refused")

	// ErrTemplateNotFound is returned by Create for a template that was not
	// registered. It is terminal.
	ErrTemplateNotFound = errors.New("ttatest: template not found")

	// ErrUnsupportedLanguage is returned by RunCode and CreateContext for a
	// language the template's interpreter does not have (FakeTemplate.Languages).
	// It is terminal.
	ErrUnsupportedLanguage = errors.New("ttatest: unsupported language")
)

// Transient marks err as transient: the returned error is a
// tta.TransientError reporting true, so tta.Retry retries it, and unwraps to
// err. Use it for faults that should be retried. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err}
}

// The fake's errors classify themselves as tta's errors do.
var (
	_ tta.TransientError  = (*transientError)(nil)
	_ tta.TransientError  = (*terminalError)(nil)
	_ tta.TransientError  = (*goneError)(nil)
	_ tta.NotStartedError = (*goneError)(nil)
)

type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Transient() bool { return true }

// terminalError marks an error as not transient.
type terminalError struct{ err error }

func (e *terminalError) Error() string   { return e.err.Error() }
func (e *terminalError) Unwrap() error   { return e.err }
func (e *terminalError) Transient() bool { return false }

func terminal(format string, args ...any) error {
	return &terminalError{err: fmt.Errorf(format, args...)}
}

// goneError is returned for operations on a sandbox that was killed or
// expired. It matches tta.ErrSandboxGone and is terminal.
type goneError struct{ id string }

func (e *goneError) Error() string        { return "ttatest: sandbox " + e.id + " not found" }
func (e *goneError) Is(target error) bool { return target == tta.ErrSandboxGone }
func (e *goneError) Transient() bool      { return false }

// NotStarted reports true: an operation on a gone sandbox did nothing (a run
// whose sandbox ends while the code runs fails as interrupted instead); see
// tta.Sandbox.RunCode.
func (e *goneError) NotStarted() bool { return true }

// portNotOpen is the transient error of the interpreter of sandbox id while
// its port is closed.
func portNotOpen(id string) error {
	return Transient(fmt.Errorf("%w (sandbox %s, port %d)", ErrPortNotOpen, id, tta.InterpreterPort))
}

// interrupted is the terminal error of an operation cut short after it
// started.
func interrupted(op string, err error) error {
	return terminal("ttatest: %s interrupted: %w", op, err)
}
