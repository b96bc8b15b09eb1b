package tta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// PausableSandbox is a Sandbox that can be paused and resumed, as E2B's can
// (NewE2BProvider's sandboxes implement it). Session.Pause and Session.Resume
// need it. Every method follows the error contract described on Provider.
type PausableSandbox interface {
	Sandbox

	// Pause pauses the sandbox: it stops running and its lifetime stops
	// counting. Pausing a paused sandbox is not an error.
	Pause(ctx context.Context) error

	// Resume resumes a paused sandbox and makes it live d from now; a
	// running one is only extended.
	Resume(ctx context.Context, d time.Duration) error

	// ContextExists reports whether the interpreter context id (made by
	// CreateContext) still exists, which tells whether a resumed sandbox kept
	// its memory.
	ContextExists(ctx context.Context, id string) (bool, error)
}

// errNotPausable is the error of Pause and Resume when the provider's
// sandboxes cannot be paused.
var errNotPausable = errors.New("tta: the provider's sandboxes cannot be paused (they do not implement PausableSandbox)")

// SessionResume is what Session.Resume reports: what survived the pause. It
// is a plain value.
type SessionResume struct {
	// SandboxID is the session's sandbox, the same as before the pause.
	SandboxID string
	// Paused is how long the session was paused.
	Paused time.Duration
	// StateKept reports whether the interpreter state (variables, imports)
	// survived: every context the session had still exists. Files survive a
	// pause either way.
	StateKept bool
	// Lost lists the languages whose interpreter context did not survive;
	// the next call in each starts a new one, flagged by
	// CodeOutput.StateReset.
	Lost []string
}

// Pause pauses the session's sandbox, after the call in flight, if any
// (waiting for it honours ctx): a paused sandbox costs no compute and does not
// expire. The next Execute resumes it (see Resume). Pausing a paused session
// does nothing. Pause fails with an error when the provider's sandboxes
// cannot be paused (see PausableSandbox), when the session is closed or its
// sandbox gone (a *SessionLostError), and with the provider's error, the
// session still running, when the pause itself fails.
func (s *Session) Pause(ctx context.Context) error {
	release, err := s.takeTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	if s.paused {
		return nil
	}
	l := s.lease()
	sb, ok := l.sb.(PausableSandbox)
	if !ok {
		return Permanent(errNotPausable)
	}
	if err := sb.Pause(ctx); err != nil {
		return s.explain(ctx, &SandboxError{Op: "pause", SandboxID: sb.ID(), Template: l.template, Err: err})
	}
	s.paused, s.pausedAt = true, time.Now()
	return nil
}

// Resume resumes a paused session's sandbox for the sandbox timeout and
// reports what survived the pause: files always, the interpreter state when
// the provider kept the sandbox's memory (E2B does by default). Resuming a
// session that is not paused reports nothing lost and changes nothing.
// Execute resumes a paused session itself; Resume lets you learn what
// survived first.
func (s *Session) Resume(ctx context.Context) (SessionResume, error) {
	release, err := s.takeTurn(ctx)
	if err != nil {
		return SessionResume{}, err
	}
	defer release()
	return s.resume(ctx)
}

// resume resumes the paused sandbox and forgets the contexts that did not
// survive. The caller holds the turn.
func (s *Session) resume(ctx context.Context) (SessionResume, error) {
	l := s.lease()
	report := SessionResume{SandboxID: l.sb.ID(), StateKept: true}
	if !s.paused {
		return report, nil
	}
	sb, ok := l.sb.(PausableSandbox)
	if !ok {
		return report, Permanent(errNotPausable)
	}
	d := s.p.cfg.sandboxTimeout
	now := time.Now()
	if err := sb.Resume(ctx, d); err != nil {
		return report, s.explain(ctx, failed(ctx, false, &SandboxError{Op: "resume", SandboxID: sb.ID(), Template: l.template, Err: err}))
	}
	s.paused = false
	report.Paused = now.Sub(s.pausedAt)
	l.extended, l.lifetime = now, d
	for lang, id := range s.contexts {
		exists, err := sb.ContextExists(ctx, id)
		if err != nil {
			return report, s.explain(ctx, failed(ctx, false, &SandboxError{Op: "resume", SandboxID: sb.ID(), Template: l.template, Err: fmt.Errorf("checking interpreter context %s: %w", id, err)}))
		}
		if !exists {
			report.Lost = append(report.Lost, lang)
			delete(s.contexts, lang)
			s.reset = append(s.reset, lang)
		}
	}
	slices.Sort(report.Lost)
	report.StateKept = len(report.Lost) == 0
	return report, nil
}
