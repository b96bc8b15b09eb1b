package tta

import (
	"context"
	"fmt"
	"time"
)

// SessionLostError is the error of a Session whose sandbox is gone (it
// expired, was killed elsewhere, or the provider lost it), saying what was
// lost with it: the variables, imports and files of Executions calls over
// Age. It matches ErrSandboxGone and unwraps to the error that showed the
// sandbox gone (often a *SandboxError). It is permanent: Retry never runs the
// call again, since the state the code relied on is gone.
//
// Without WithRecreateSessions every later call of the session fails with
// the same error; with it, the next call starts over in a new sandbox.
type SessionLostError struct {
	// SandboxID is the sandbox that is gone.
	SandboxID string
	// Age is how long the sandbox had lived when it was found gone, from its
	// create.
	Age time.Duration
	// Executions is the number of calls whose code ran in the sandbox
	// (those that raised included); the call that found it gone is not
	// counted.
	Executions int
	// Err is what showed the sandbox gone.
	Err error
}

// Error says which sandbox is gone, after how long and how many executions,
// and what showed it.
func (e *SessionLostError) Error() string {
	return fmt.Sprintf("tta: session lost: sandbox %s is gone after %s and %d executions; the variables, imports and files of those executions are lost: %v",
		e.SandboxID, e.Age.Round(time.Millisecond), e.Executions, e.Err)
}

// Unwrap returns the error that showed the sandbox gone.
func (e *SessionLostError) Unwrap() error { return e.Err }

// Is reports whether target is ErrSandboxGone.
func (e *SessionLostError) Is(target error) bool { return target == ErrSandboxGone }

// Transient reports false: the session's state cannot come back.
func (e *SessionLostError) Transient() bool { return false }

// WithRecreateSessions makes a Session whose sandbox is gone start over: the
// call that finds it gone still fails with a *SessionLostError, and the next
// call creates a new sandbox (with the packages of WithPackages, from the
// warm pool when there is one) and runs there, replaying nothing: variables,
// imports, files and installed CodeInput.Packages are gone, and
// CodeOutput.StateReset says so (on that call, and on the next ones until
// code has run in the new sandbox). Session.SandboxID then names the
// new sandbox. A new sandbox that cannot be made fails the call with the
// create's error, and the next call tries again.
//
// Without it (the default) a Session never replaces its sandbox: every call
// after it is gone fails with the *SessionLostError.
func WithRecreateSessions() Option {
	return func(c *codeConfig) { c.recreateSessions = true }
}

// lostError describes the loss of the session's sandbox, shown by err.
// The caller holds the turn.
func (s *Session) lostError(err error) *SessionLostError {
	l := s.lease()
	return &SessionLostError{SandboxID: l.sb.ID(), Age: time.Since(l.created), Executions: s.runs, Err: err}
}

// lease returns the session's current lease.
func (s *Session) lease() *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l
}

// recreate replaces a gone sandbox with a new one when WithRecreateSessions
// allows it, marking the session fresh until code runs in it. The caller
// holds the turn; ctx is the call's, begun.
func (s *Session) recreate(ctx context.Context) error {
	s.mu.Lock()
	gone := s.gone
	s.mu.Unlock()
	if gone == nil || !s.p.cfg.recreateSessions {
		return nil
	}
	l, err := s.p.acquire(withPurpose(ctx, purposeSession))
	if err != nil {
		return s.p.explain(ctx, err)
	}
	if l.pooled {
		s.p.refill()
	}
	s.mu.Lock()
	old, closed := s.l, s.closed
	if !closed {
		s.l, s.gone = l, nil
	}
	s.mu.Unlock()
	if closed {
		_ = s.p.killLease(ctx, l)
		return Permanent(fmt.Errorf("%w: session %s", ErrClosed, old.sb.ID()))
	}
	s.runs, s.paused, s.reset, s.fresh = 0, false, nil, true
	clear(s.contexts)
	_ = s.p.killLease(ctx, old) // gone already: this only stops tracking it
	return nil
}
