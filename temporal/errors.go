package ttatemporal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/tta-dev/tta"
)

// Error types: the Type of the Temporal application errors an Activity
// returns, one per kind of tta error. They are stable: workflows, queries
// and RetryPolicy.NonRetryableErrorTypes may name them.
const (
	TypeTemplateNotReady = "tta.TemplateNotReady" // *tta.TemplateNotReadyError
	TypeCodeFailed       = "tta.CodeFailed"       // *tta.ExecutionError (WithCodeErrorsAsErrors)
	TypeCodeTimeout      = "tta.CodeTimeout"      // tta.ErrCodeTimeout
	TypeMayHaveRun       = "tta.MayHaveRun"       // *MayHaveRunError
	TypeInstall          = "tta.Install"          // *tta.InstallError
	TypeSandbox          = "tta.Sandbox"          // *tta.SandboxError
	TypeTimeout          = "tta.Timeout"          // tta.ErrTimeout
	TypePanic            = "tta.Panic"            // *tta.PanicError
	TypePermanent        = "tta.Permanent"        // any other error tta does not retry (Permanent, Transient() false, validation)
	TypeTransient        = "tta.Transient"        // any other error tta retries
)

// ErrMayHaveRun is matched, with errors.Is, by the *MayHaveRunError of an
// attempt that refused to run code again.
var ErrMayHaveRun = errors.New("ttatemporal: code may have run in an earlier attempt")

// MayHaveRunError is the error of an attempt of an Activity that did not
// run its primitive because an attempt before it had started running code
// and did not complete: its worker was lost, or a step after the code
// failed with an error Temporal retries (its last heartbeat said so; see
// HeartbeatProvider). It is non-retryable: code may have side effects, and
// tta never runs it twice on its own. WithRerunStartedCode runs it again
// instead. It matches ErrMayHaveRun. It is a plain value.
type MayHaveRunError struct {
	// Attempt is the attempt that may have run the code.
	Attempt int
	// SandboxIDs are the sandboxes of that attempt.
	SandboxIDs []string
}

// Error describes the failure and the remedy.
func (e *MayHaveRunError) Error() string {
	msg := fmt.Sprintf("ttatemporal: attempt %d started running the code and did not complete", e.Attempt)
	if len(e.SandboxIDs) > 0 {
		msg += " (sandbox " + strings.Join(e.SandboxIDs, ", ") + ")"
	}
	return msg + "; not running it again, since it may have run: check its effects, then start a new workflow or retry with WithRerunStartedCode"
}

// Is reports whether target is ErrMayHaveRun.
func (e *MayHaveRunError) Is(target error) bool { return target == ErrMayHaveRun }

// Transient reports false.
func (e *MayHaveRunError) Transient() bool { return false }

// Error is an error of an Activity as a workflow sees it (Execute,
// FromTemporal): the Temporal error, and the tta error it stands for, which
// errors.Is and errors.As find through Unwrap: a *tta.TemplateNotReadyError,
// *tta.ExecutionError, *tta.SandboxError, *tta.InstallError,
// *tta.PanicError (its Value the panic value's text) or *MayHaveRunError
// with their fields, or an error matching the tta
// sentinels the original matched (tta.ErrTimeout, tta.ErrCodeTimeout,
// tta.ErrSandboxGone, ...). Errors nested inside these (a SandboxError's
// Err, a TemplateNotReadyError's Last) keep their message and sentinels,
// not their Go types. Temporal's own types (*temporal.ActivityError,
// *temporal.ApplicationError, *temporal.TimeoutError) are found as well.
// It is not modified after it is returned.
type Error struct {
	// Type is one of the Type constants.
	Type string
	// Retryable reports whether Temporal could retry the attempt that
	// failed (an Execute that returned has exhausted its retries).
	Retryable bool

	tta      error // the tta error rebuilt
	temporal error // the error as Temporal returned it
}

// Error returns the message of the tta error.
func (e *Error) Error() string { return e.tta.Error() }

// Unwrap returns the tta error and the Temporal error.
func (e *Error) Unwrap() []error { return []error{e.tta, e.temporal} }

// Transient reports Retryable, so that tta.IsTransient and tta's Retry
// read it as they read the original.
func (e *Error) Transient() bool { return e.Retryable }

// sentinels are the errors an error may match that travel by name.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrTimeout", tta.ErrTimeout},
	{"ErrCircuitOpen", tta.ErrCircuitOpen},
	{"ErrBulkheadFull", tta.ErrBulkheadFull},
	{"ErrNoRoute", tta.ErrNoRoute},
	{"ErrTemplateNotReady", tta.ErrTemplateNotReady},
	{"ErrSandboxGone", tta.ErrSandboxGone},
	{"ErrClosed", tta.ErrClosed},
	{"ErrCodeFailed", tta.ErrCodeFailed},
	{"ErrCodeTimeout", tta.ErrCodeTimeout},
	{"ErrNoProvider", tta.ErrNoProvider},
	{"ErrMayHaveRun", ErrMayHaveRun},
	{"DeadlineExceeded", context.DeadlineExceeded},
	{"Canceled", context.Canceled},
}

// remoteError is an error that crossed Temporal: its message and the
// sentinels it matched.
type remoteError struct {
	msg       string
	sentinels []string
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Is(target error) bool {
	for _, s := range sentinels {
		if s.err == target {
			for _, n := range e.sentinels {
				if n == s.name {
					return true
				}
			}
		}
	}
	return false
}

// details is what an application error of an Activity carries.
type details struct {
	Message   string   `json:"message"`
	Sentinels []string `json:"sentinels,omitempty"`

	// TemplateNotReady
	Template  string        `json:"template,omitempty"`
	SandboxID string        `json:"sandbox_id,omitempty"`
	Port      int           `json:"port,omitempty"`
	Window    time.Duration `json:"window,omitempty"`
	Waited    time.Duration `json:"waited,omitempty"`
	Probes    int           `json:"probes,omitempty"`
	// Cause is the nested error (TemplateNotReady's Last, Sandbox's and
	// Install's Err).
	Cause *cause `json:"cause,omitempty"`

	// CodeFailed
	Execution *tta.ExecutionError `json:"execution,omitempty"`

	// Sandbox
	Op      string `json:"op,omitempty"`
	Started bool   `json:"started,omitempty"`

	// Install
	Packages []string `json:"packages,omitempty"`
	ExitCode int      `json:"exit_code,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`

	// Panic
	Panic string `json:"panic,omitempty"`
	Stack string `json:"stack,omitempty"`

	// MayHaveRun
	Attempt    int      `json:"attempt,omitempty"`
	SandboxIDs []string `json:"sandbox_ids,omitempty"`
}

// cause is a nested error: its message and sentinels.
type cause struct {
	Message   string   `json:"message"`
	Sentinels []string `json:"sentinels,omitempty"`
}

func causeOf(err error) *cause {
	if err == nil {
		return nil
	}
	return &cause{Message: err.Error(), Sentinels: sentinelsOf(err)}
}

func (c *cause) err() error {
	if c == nil {
		return nil
	}
	return &remoteError{msg: c.Message, sentinels: c.Sentinels}
}

func sentinelsOf(err error) []string {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	return names
}

// ToTemporal returns err, an error of a tta primitive, as the Temporal
// application error an activity returns: its Type one of the Type
// constants, non-retryable unless retryable, with tta's RetryAfter as the
// next retry delay, and with details from which FromTemporal rebuilds the
// tta error on the workflow side. Activity does this itself; ToTemporal is
// for activities written by hand. A nil err stays nil, and an error that is
// already a Temporal application or canceled error is returned as it is.
func ToTemporal(err error, retryable bool) error {
	return toTemporal(err, retryable, retryable)
}

// toTemporal is ToTemporal with the kind of the error (TypeTransient or
// TypePermanent, for errors of no other type) apart from whether Temporal
// may retry it.
func toTemporal(err error, transient, retryable bool) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	if errors.As(err, &appErr) || errors.As(err, &canceled) {
		return err
	}
	d := details{Message: err.Error(), Sentinels: sentinelsOf(err)}
	var typ string
	var (
		notReady *tta.TemplateNotReadyError
		execErr  *tta.ExecutionError
		mayRun   *MayHaveRunError
		install  *tta.InstallError
		sandbox  *tta.SandboxError
		panicErr *tta.PanicError
	)
	switch {
	case errors.As(err, &mayRun):
		typ = TypeMayHaveRun
		d.Attempt, d.SandboxIDs = mayRun.Attempt, mayRun.SandboxIDs
	case errors.As(err, &notReady):
		typ = TypeTemplateNotReady
		d.Template, d.SandboxID, d.Port = notReady.Template, notReady.SandboxID, notReady.Port
		d.Window, d.Waited, d.Probes = notReady.Window, notReady.Waited, notReady.Probes
		d.Cause = causeOf(notReady.Last)
	case errors.As(err, &execErr):
		typ = TypeCodeFailed
		d.Execution = execErr
	case errors.As(err, &install):
		typ = TypeInstall
		d.SandboxID, d.Template, d.Packages = install.SandboxID, install.Template, install.Packages
		d.ExitCode, d.Stderr, d.Cause = install.ExitCode, install.Stderr, causeOf(install.Err)
	case errors.Is(err, tta.ErrCodeTimeout):
		typ = TypeCodeTimeout
		if errors.As(err, &sandbox) {
			d.Op, d.SandboxID, d.Template, d.Started = sandbox.Op, sandbox.SandboxID, sandbox.Template, sandbox.Started
			d.Cause = causeOf(sandbox.Err)
		}
	case errors.As(err, &sandbox):
		typ = TypeSandbox
		d.Op, d.SandboxID, d.Template, d.Started = sandbox.Op, sandbox.SandboxID, sandbox.Template, sandbox.Started
		d.Cause = causeOf(sandbox.Err)
	case errors.Is(err, tta.ErrTimeout):
		typ = TypeTimeout
	case errors.As(err, &panicErr):
		typ = TypePanic
		d.Panic, d.Stack = fmt.Sprint(panicErr.Value), string(panicErr.Stack)
	case transient:
		typ = TypeTransient
	default:
		typ = TypePermanent
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, temporal.ApplicationErrorOptions{
		NonRetryable:   !retryable,
		Details:        []any{d},
		NextRetryDelay: tta.RetryAfter(err),
	})
}

// FromTemporal returns err, an error of a Temporal activity as a workflow
// gets it, as an *Error when it comes from an Activity (or an activity
// using ToTemporal) or is the timeout of an activity (start-to-close,
// schedule-to-close: TypeTimeout, matching tta.ErrTimeout and
// context.DeadlineExceeded); any other error, nil included, is returned as
// it is. Execute does this itself.
func FromTemporal(err error) error {
	if err == nil {
		return nil
	}
	// A timeout first: its cause may be an earlier attempt's error.
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		which := map[enumspb.TimeoutType]string{
			enumspb.TIMEOUT_TYPE_START_TO_CLOSE:    "start-to-close",
			enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: "schedule-to-close",
		}[timeoutErr.TimeoutType()]
		if which != "" {
			return &Error{Type: TypeTimeout, tta: &remoteError{
				msg:       "ttatemporal: the activity ran out of its " + which + " timeout: " + err.Error(),
				sentinels: []string{"ErrTimeout", "DeadlineExceeded"},
			}, temporal: err}
		}
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && strings.HasPrefix(appErr.Type(), "tta.") {
		var d details
		if !appErr.HasDetails() || appErr.Details(&d) != nil {
			d = details{Message: appErr.Message()}
		}
		return &Error{Type: appErr.Type(), Retryable: !appErr.NonRetryable(), tta: rebuild(appErr.Type(), d), temporal: err}
	}
	return err
}

// rebuild returns the tta error that d describes.
func rebuild(typ string, d details) error {
	remote := &remoteError{msg: d.Message, sentinels: d.Sentinels}
	switch typ {
	case TypeTemplateNotReady:
		return &tta.TemplateNotReadyError{Template: d.Template, SandboxID: d.SandboxID, Port: d.Port,
			Window: d.Window, Waited: d.Waited, Probes: d.Probes, Last: d.Cause.err()}
	case TypeCodeFailed:
		if d.Execution != nil {
			return d.Execution
		}
	case TypeInstall:
		return &tta.InstallError{SandboxID: d.SandboxID, Template: d.Template, Packages: d.Packages,
			ExitCode: d.ExitCode, Stderr: d.Stderr, Err: d.Cause.err()}
	case TypeSandbox, TypeCodeTimeout:
		if d.Op != "" {
			return &messageError{msg: d.Message, sentinels: remote, err: &tta.SandboxError{Op: d.Op, SandboxID: d.SandboxID,
				Template: d.Template, Started: d.Started, Err: d.Cause.err()}}
		}
	case TypeMayHaveRun:
		return &MayHaveRunError{Attempt: d.Attempt, SandboxIDs: d.SandboxIDs}
	case TypePanic:
		return &tta.PanicError{Value: d.Panic, Stack: []byte(d.Stack)}
	}
	return remote
}

// messageError keeps the original message and sentinels of an error
// around the typed error rebuilt from it (a code timeout is a SandboxError
// that also matches tta.ErrCodeTimeout).
type messageError struct {
	msg       string
	sentinels *remoteError
	err       error
}

func (e *messageError) Error() string        { return e.msg }
func (e *messageError) Unwrap() error        { return e.err }
func (e *messageError) Is(target error) bool { return e.sentinels.Is(target) }
