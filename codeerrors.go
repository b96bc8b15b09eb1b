package tta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The error types of code execution; the package documentation tells how
// they fit together.

// TemplateNotReadyError is returned, wrapped in nothing, when a sandbox's code
// interpreter did not answer within the template's init window. It names the
// template, the interpreter's port, how long the primitive waited and how many
// probes it made:
//
//	tta: template tta-ml-minimal (3xmp0rmfztawhlpysu4v) not ready: code interpreter port 49999 not open after 1m59s and 28 probes (init window 2m0s) in sandbox sbx-2: <last probe error>
//
// It matches ErrTemplateNotReady with errors.Is, unwraps to the last probe's
// error, and reports Transient() false, so Retry does not try again: a template
// that did not start in its window will not start on the next attempt either.
// Fallback to another template (see WithPackages) is the remedy.
//
// A TemplateNotReadyError is not modified after it is returned and is safe to
// read from multiple goroutines.
type TemplateNotReadyError struct {
	// Template names the template as Template.String does.
	Template string
	// SandboxID is the sandbox that did not become ready. It has been killed.
	SandboxID string
	// Port is the interpreter port that stayed closed, as the sandbox reports
	// it (Sandbox.InterpreterPort); when it is 0 the message names no port.
	Port int
	// Window is the init window that closed.
	Window time.Duration
	// Waited is the time from the end of Create until the wait gave up: the
	// window, or a little less when the next probe would have come after it.
	Waited time.Duration
	// Probes is the number of probes made.
	Probes int
	// Last is the last probe's error; nil if the window closed before any
	// probe answered.
	Last error
}

// Error describes the failure; see the type's documentation.
func (e *TemplateNotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tta: template %s not ready: code interpreter ", e.Template)
	if e.Port != 0 {
		fmt.Fprintf(&b, "port %d not open", e.Port)
	} else {
		b.WriteString("not answering")
	}
	fmt.Fprintf(&b, " after %v and %d probe", roundDuration(e.Waited), e.Probes)
	if e.Probes != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " (init window %v)", e.Window)
	if e.SandboxID != "" {
		b.WriteString(" in sandbox " + e.SandboxID)
	}
	if e.Last != nil {
		b.WriteString(": " + e.Last.Error())
	}
	return b.String()
}

// Is reports whether target is ErrTemplateNotReady.
func (e *TemplateNotReadyError) Is(target error) bool { return target == ErrTemplateNotReady }

// Unwrap returns Last.
func (e *TemplateNotReadyError) Unwrap() error { return e.Last }

// Transient reports false: Retry does not retry a template that did not start.
func (e *TemplateNotReadyError) Transient() bool { return false }

// SandboxError is returned by CodeExecutionPrimitive and Session when a sandbox
// operation failed: creating the sandbox, waiting for it (other than the init
// window closing, which is a *TemplateNotReadyError), uploading files,
// creating an interpreter context, extending its timeout, running the code or
// killing the sandbox. A failed install is an *InstallError.
//
// Whether Retry may try again follows from Started: when the code may have
// started running, the error comes wrapped by Permanent (errors.As still finds
// the *SandboxError), because running it twice could repeat its side effects.
// Otherwise the cause decides: the provider's transient errors (Transient()
// true: port not open, connection refused, rate limited) are retried, and its
// terminal ones (Transient() false: unauthorized, template unknown) are not,
// and come wrapped by Permanent. A sandbox found gone before the code started
// (ErrSandboxGone) is retried when the call is stateless
// (CodeExecutionPrimitive.Execute, NewSession), since the next attempt gets a
// fresh sandbox, and is terminal in a Session, whose state went with it.
//
// A SandboxError is not modified after it is returned and is safe to read from
// multiple goroutines.
type SandboxError struct {
	// Op is the operation that failed: "create", "wait", "upload", "context",
	// "extend", "run" or "kill"; for Session's own file and command methods
	// also "command", "read" or "list".
	Op string
	// SandboxID is the sandbox's ID; empty when Create failed.
	SandboxID string
	// Template names the template as Template.String does.
	Template string
	// Started reports whether the code may have started running.
	Started bool
	// Err is the cause.
	Err error

	fresh bool // the sandbox was gone and the call's retry gets a fresh one
}

// Error returns "tta: <op> in sandbox <id> (template <t>): <cause>".
func (e *SandboxError) Error() string {
	var b strings.Builder
	b.WriteString("tta: " + e.Op)
	if e.SandboxID != "" {
		b.WriteString(" in sandbox " + e.SandboxID)
	}
	if e.Template != "" {
		b.WriteString(" (template " + e.Template + ")")
	}
	b.WriteString(": " + errString(e.Err))
	return b.String()
}

// Unwrap returns Err.
func (e *SandboxError) Unwrap() error { return e.Err }

// Transient reports whether trying again may succeed, as the type's
// documentation describes: never when Started, otherwise when the cause is
// transient or when the sandbox was gone in a stateless call.
func (e *SandboxError) Transient() bool { return !e.Started && (e.fresh || IsTransient(e.Err)) }

// InstallError is returned by CodeExecutionPrimitive and Session when packages
// (WithPackages, CodeInput.Packages) could not be installed: pip exited with a
// non-zero status, or its command could not be run (then Err is the cause).
// The code did not start.
//
// A failure of pip itself reports Transient() false: a package that does not
// exist or does not build will not install on the next attempt either. A
// command that could not run follows the rules of SandboxError without
// Started: the provider's transient errors are retried, a sandbox found gone
// is retried in a stateless call, the rest comes wrapped by Permanent.
//
// An InstallError is not modified after it is returned and is safe to read
// from multiple goroutines.
type InstallError struct {
	// SandboxID is the sandbox the install ran in.
	SandboxID string
	// Template names the sandbox's template as Template.String does.
	Template string
	// Packages are the packages the failed command tried to install.
	Packages []string
	// ExitCode is pip's exit status; 0 when the command could not run.
	ExitCode int
	// Stderr is pip's error output.
	Stderr string
	// Err is why the command could not run; nil when pip ran and failed.
	Err error

	fresh bool // the sandbox was gone and the call's retry gets a fresh one
}

// Error returns "tta: pip install <packages> in sandbox <id> exited with
// <code>: <stderr>" when pip failed, and "tta: pip install <packages> in
// sandbox <id> (template <t>): <cause>" when its command could not run.
func (e *InstallError) Error() string {
	msg := fmt.Sprintf("tta: pip install %s in sandbox %s", strings.Join(e.Packages, " "), e.SandboxID)
	if e.Err != nil {
		if e.Template != "" {
			msg += " (template " + e.Template + ")"
		}
		return msg + ": " + e.Err.Error()
	}
	msg += fmt.Sprintf(" exited with %d", e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// Unwrap returns Err.
func (e *InstallError) Unwrap() error { return e.Err }

// Transient reports whether trying again may succeed: false when pip failed,
// and as the cause says (true for a sandbox gone in a stateless call) when its
// command could not run.
func (e *InstallError) Transient() bool { return e.Err != nil && (e.fresh || IsTransient(e.Err)) }

// ExecutionError is the error raised by the user's code: the exception's name,
// value and traceback, as the interpreter reported them. It is a result, set in
// CodeOutput.Error, not a Go error returned by Execute, unless
// WithCodeErrorsAsErrors was given; then Execute also returns it, marked
// Permanent, and it matches ErrCodeFailed and reports Transient() false, so
// Retry never runs failing code again.
//
// An ExecutionError is a plain value, not modified by the library after it is
// returned, and safe to read from multiple goroutines.
type ExecutionError struct {
	// Name is the error's type, such as "ZeroDivisionError".
	Name string
	// Value is the error's message, such as "division by zero".
	Value string
	// Traceback is the interpreter's traceback, possibly with terminal colour
	// codes as the interpreter sends them.
	Traceback string
}

// Error returns "tta: code raised <Name>: <Value>".
func (e *ExecutionError) Error() string {
	if e.Value == "" {
		return "tta: code raised " + e.Name
	}
	return "tta: code raised " + e.Name + ": " + e.Value
}

// Is reports whether target is ErrCodeFailed.
func (e *ExecutionError) Is(target error) bool { return target == ErrCodeFailed }

// Transient reports false: failing code fails again.
func (e *ExecutionError) Transient() bool { return false }

// CodeNotStarted reports whether err, an error of CodeExecutionPrimitive or
// Session, leaves the code certainly not started, so that running it
// elsewhere cannot repeat its side effects. It reports false for a nil err
// (the code ran) and when err shows that the code may have run: a
// *SandboxError with Started set (the run broke or timed out), or an
// *ExecutionError (the code raised, with WithCodeErrorsAsErrors); true for
// every other error, such as a *TemplateNotReadyError, an *InstallError or a
// failed create. It is the condition to give FallbackIf when the
// alternatives run the same code. Every error in err's tree is looked at, so
// a *FallbackError or an errors.Join with one such error among others
// reports false.
func CodeNotStarted(err error) bool {
	return err != nil && notStarted(err)
}

// notStarted is CodeNotStarted for a non-nil err.
func notStarted(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case *SandboxError:
			if e.Started {
				return false
			}
		case *ExecutionError:
			return false
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if e != nil && !notStarted(e) {
					return false
				}
			}
			return true
		default:
			return true
		}
	}
	return true
}

// codeTimeoutError is the error of a run longer than CodeInput.Timeout. It
// matches ErrCodeTimeout and context.DeadlineExceeded and unwraps to the
// provider's error.
type codeTimeoutError struct {
	d   time.Duration
	err error
}

func (e *codeTimeoutError) Error() string {
	return fmt.Sprintf("tta: code ran longer than its %v timeout: %v", e.d, e.err)
}

func (e *codeTimeoutError) Is(target error) bool {
	return target == ErrCodeTimeout || target == context.DeadlineExceeded
}

func (e *codeTimeoutError) Unwrap() error { return e.err }

// failed returns err, the error of a sandbox operation (a *SandboxError or
// *InstallError), marked Permanent when the code may have started or when,
// with ctx still live, the cause is not transient: Retry then stops, and no
// RetryIf makes it try again.
func failed(ctx context.Context, started bool, err error) error {
	if started || (ctx.Err() == nil && !IsTransient(err)) {
		return Permanent(err)
	}
	return err
}

// mayHaveStarted reports whether the code of a run that failed with err may
// have started: not when the provider says that the request can be tried
// again (it never reached the interpreter) or, with a NotStartedError, that
// the code did not start (see Sandbox.RunCode).
func mayHaveStarted(err error) bool {
	if IsTransient(err) {
		return false
	}
	ns, ok := errors.AsType[NotStartedError](err)
	return !ok || !ns.NotStarted()
}

// retryInFreshSandbox makes the error of a stateless call whose sandbox was
// gone before its code started retryable, since the next attempt gets a fresh
// sandbox; other errors, nil included, are returned unchanged.
func retryInFreshSandbox(err error) error {
	if !errors.Is(err, ErrSandboxGone) {
		return err
	}
	if se, ok := errors.AsType[*SandboxError](err); ok && !se.Started {
		fresh := *se
		fresh.fresh = true
		return &fresh
	}
	if ie, ok := errors.AsType[*InstallError](err); ok {
		fresh := *ie
		fresh.fresh = true
		return &fresh
	}
	return err
}
