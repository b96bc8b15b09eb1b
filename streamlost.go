package tta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// streamCheckTimeout bounds the probe that tells a lost stream from a gone
// sandbox.
const streamCheckTimeout = 10 * time.Second

// StreamLostError is the error of a run whose stream broke while its sandbox
// stayed alive (ErrStreamLost): the code started and may still be running in
// the sandbox, but its output and result are lost to this call. It matches
// ErrStreamLost and unwraps to the provider's error; it is not transient.
//
// Nothing is run again. A Session stays usable (its sandbox and context are
// there, with whatever the code did); a stateless Execute kills its sandbox,
// as after every call. For commands, package e2b can connect to a running process
// again by its PID (e2b.Sandbox.ConnectCommand) to keep reading its output.
type StreamLostError struct {
	// SandboxID is the sandbox the code ran in; it was alive after the break.
	SandboxID string
	// ContextID is the interpreter context the code ran in; "" for the
	// language's default context.
	ContextID string
	// Err is the provider's error for the broken stream.
	Err error
}

// Error names the sandbox and context whose stream was lost, and the cause.
func (e *StreamLostError) Error() string {
	ctx := e.ContextID
	if ctx == "" {
		ctx = "default"
	}
	return fmt.Sprintf("tta: execution stream lost: sandbox %s was alive after the break (context %s), so the code may have gone on running; its output is lost to this call: %v", e.SandboxID, ctx, e.Err)
}

// Unwrap returns the provider's error.
func (e *StreamLostError) Unwrap() error { return e.Err }

// Is reports whether target is ErrStreamLost.
func (e *StreamLostError) Is(target error) bool { return target == ErrStreamLost }

// Transient reports false: the code started.
func (e *StreamLostError) Transient() bool { return false }

// streamBroke tells what a run whose stream broke off (err matches
// e2b.ErrExecutionInterrupted, as the E2B provider's errors do) means for l's
// sandbox, when the caller's context is still live: it probes the sandbox,
// once, and returns a *StreamLostError when it answers, or err made to match
// ErrSandboxGone when the probe finds it gone. Any other err is returned as
// it is.
func (p *CodeExecutionPrimitive) streamBroke(ctx context.Context, l *lease, contextID string, err error) error {
	if ctx.Err() != nil || !errors.Is(err, e2b.ErrExecutionInterrupted) || errors.Is(err, ErrSandboxGone) || errors.Is(err, ErrCodeTimeout) {
		return err
	}
	probeCtx, cancel := context.WithTimeout(ctx, streamCheckTimeout)
	defer cancel()
	switch probeErr := l.sb.Probe(probeCtx); {
	case probeErr == nil:
		return &StreamLostError{SandboxID: l.sb.ID(), ContextID: contextID, Err: err}
	case errors.Is(probeErr, ErrSandboxGone):
		return &goneDuringRunError{err: err, probe: probeErr}
	}
	return err
}

// goneDuringRunError is a run's error when a probe afterwards found the
// sandbox gone: it matches ErrSandboxGone and unwraps to the run's error.
type goneDuringRunError struct {
	err   error // the run's
	probe error // the probe's, which showed the sandbox gone
}

func (e *goneDuringRunError) Error() string {
	return fmt.Sprintf("%v (the sandbox is gone: %v)", e.err, e.probe)
}
func (e *goneDuringRunError) Unwrap() error        { return e.err }
func (e *goneDuringRunError) Is(target error) bool { return target == ErrSandboxGone }
func (e *goneDuringRunError) Transient() bool      { return false }
