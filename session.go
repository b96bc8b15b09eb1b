package tta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Session is stateful, notebook-like code execution: every call runs in the
// same sandbox and, per language, the same interpreter context, so variables,
// imports and files persist from one call to the next. A Session is a
// Primitive[CodeInput, CodeOutput], so it composes like any other.
//
// A session lives while it is used: a call keeps its sandbox alive however
// long it runs, and a session expires only when it is left unused for about
// the sandbox timeout (WithSandboxTimeout; at least seven eighths of it).
// This costs a request to the provider, which extends the sandbox's
// timeout, before and after a call when an eighth of the timeout has passed
// since the last one, and every half timeout while a long call runs. An
// expired session's calls fail with a *SessionLostError (matching
// ErrSandboxGone) saying what was lost, every later call too: a Session
// never starts over in a new sandbox silently, since the state its caller
// relies on would be lost. WithRecreateSessions lets it start over, saying
// so on the next output (CodeOutput.StateReset).
//
// Errors follow CodeExecutionPrimitive's rules. A transient error before the
// code started leaves the session usable, so Retry(session) is safe: it never
// runs code twice.
//
// Close kills the sandbox; closing the CodeExecutionPrimitive that made the
// session kills it too. A call that panics (an output callback did) kills the
// sandbox before the panic goes on, and the session then fails with
// ErrSandboxGone. A Session is safe for concurrent use; its calls run
// one at a time, in the order they acquire it, and Close interrupts the call
// in flight.
type Session struct {
	p *CodeExecutionPrimitive
	l *lease // guarded by mu; replaced only by recreate, which holds the turn

	closing context.Context         // done once Close starts
	cancel  context.CancelCauseFunc // cancels closing

	turn     chan struct{}     // holds a token while a call runs; guards the fields up to mu
	contexts map[string]string // interpreter context ID by language
	runs     int               // calls whose code ran in the sandbox
	paused   bool              // see Pause
	pausedAt time.Time
	reset    []string // languages whose context a pause lost, until code runs in them
	fresh    bool     // recreated, and no code has run since

	mu     sync.Mutex // protects l, closed and gone
	closed bool
	gone   error // the error that showed the sandbox gone
}

// NewSession starts a session: a ready sandbox (from the warm pool when there
// is one), with the packages of WithPackages installed. It fails as Execute
// fails before running code, with the sandbox killed.
func (p *CodeExecutionPrimitive) NewSession(ctx context.Context) (*Session, error) {
	ctx, done, err := p.begin(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer done()
	l, err := p.acquire(withPurpose(ctx, purposeSession))
	if err == nil && l.pooled {
		p.refill() // the session keeps the sandbox: replace it at once
	}
	if err != nil {
		return nil, p.explain(ctx, retryInFreshSandbox(err))
	}
	s := &Session{p: p, l: l, turn: make(chan struct{}, 1), contexts: make(map[string]string)}
	s.closing, s.cancel = context.WithCancelCause(context.Background())
	return s, nil
}

// SandboxID returns the ID of the session's sandbox.
func (s *Session) SandboxID() string { return s.lease().sb.ID() }

// String names the session in messages: "session <sandbox ID> on <template>".
func (s *Session) String() string {
	l := s.lease()
	return "session " + l.sb.ID() + " on " + l.template
}

// takeTurn waits for the session's turn, which one call holds at a time,
// checking before and after the wait that the session is usable. A channel
// rather than a mutex: a waiting caller honours ctx. Call release when done.
func (s *Session) takeTurn(ctx context.Context) (release func(), err error) {
	if err := s.unusable(); err != nil {
		return nil, err
	}
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if err := s.unusable(); err != nil {
		<-s.turn
		return nil, err
	}
	return func() { <-s.turn }, nil
}

// Execute runs in.Code in the session's sandbox, after installing those of
// in.Packages it does not have yet and writing in.Files. CodeOutput.Startup
// is the time spent on those and on extending the sandbox's timeout.
func (s *Session) Execute(ctx context.Context, in CodeInput) (out CodeOutput, err error) {
	ctx, o := s.p.observe(ctx, spanSession, in)
	defer o.endCode(ctx, &out, &err)
	return s.execute(ctx, in)
}

// execute is Execute, observed.
func (s *Session) execute(ctx context.Context, in CodeInput) (CodeOutput, error) {
	l := s.lease()
	out := CodeOutput{SandboxID: l.sb.ID(), Template: l.template, Path: s.p.path(in)}
	if err := in.validate(); err != nil {
		return out, Permanent(err)
	}
	release, err := s.takeTurn(ctx)
	if err != nil {
		return out, err
	}
	defer release()
	ctx, done, err := s.p.begin(ctx, s.closing)
	if err != nil {
		return out, err
	}
	defer done()
	if err := s.recreate(ctx); err != nil {
		return out, err
	}
	out.SandboxID, out.StateReset = s.l.sb.ID(), s.fresh
	if s.paused {
		if _, err := s.resume(ctx); err != nil {
			return out, err
		}
	}
	unwinding := true // still true in the deferred call only if the call panics
	defer func() {
		if unwinding {
			s.abandon(ctx)
		}
	}()

	start := time.Now()
	if err := s.extend(ctx); err != nil {
		return out, s.explain(ctx, err)
	}
	lang := in.language()
	cid, ok := s.contexts[lang]
	if !ok {
		cid, err = s.l.sb.CreateContext(ctx, lang)
		if err != nil {
			return out, s.explain(ctx, failed(ctx, false, &SandboxError{Op: "context", SandboxID: s.l.sb.ID(), Template: s.l.template, Err: err}))
		}
		s.contexts[lang] = cid
	}
	out, err = s.p.run(ctx, s.l, in, cid, start)
	out.StateReset = s.fresh || slices.Contains(s.reset, lang)
	unwinding = false
	if err == nil || out.Error != nil { // the code ran: the caller has seen the reset
		s.runs++
		s.fresh = false
		s.reset = slices.DeleteFunc(s.reset, func(l string) bool { return l == lang })
	}
	// After a long call the last extension may be half a timeout old: extend
	// again so that the session is idle for a whole one. A failure here is
	// the next call's to report.
	_ = s.extend(ctx)
	return out, s.explain(ctx, err)
}

// abandon kills the sandbox of a session whose call is panicking, so that a
// crashing program leaves nothing running; later calls fail with
// ErrSandboxGone.
func (s *Session) abandon(ctx context.Context) {
	lost := s.lostError(fmt.Errorf("tta: session %s: %w: killed when a call panicked", s.l.sb.ID(), ErrSandboxGone))
	s.mu.Lock()
	if s.gone == nil {
		s.gone = lost
	}
	s.mu.Unlock()
	_ = s.p.killLease(ctx, s.l)
}

// extend extends the sandbox's timeout when an eighth of it has passed since
// the last extension.
func (s *Session) extend(ctx context.Context) error {
	d := s.p.cfg.sandboxTimeout
	now := time.Now()
	if now.Sub(s.l.extended) < d/8 {
		return nil
	}
	if err := s.l.sb.SetTimeout(ctx, d); err != nil {
		return failed(ctx, false, &SandboxError{Op: "extend", SandboxID: s.l.sb.ID(), Template: s.l.template, Err: err})
	}
	s.l.extended, s.l.lifetime = now, d
	return nil
}

// unusable returns the error for a call on a closed session or one whose
// sandbox is gone, or nil.
func (s *Session) unusable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return Permanent(fmt.Errorf("%w: session %s", ErrClosed, s.l.sb.ID()))
	case s.gone != nil && !s.p.cfg.recreateSessions:
		return s.gone
	}
	return nil
}

// explain records a gone sandbox and reports interrupted calls as ErrClosed.
func (s *Session) explain(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	err = s.p.explain(ctx, err)
	if errors.Is(err, ErrSandboxGone) && !errors.Is(err, ErrClosed) {
		lost := s.lostError(err)
		s.mu.Lock()
		if s.gone == nil {
			s.gone = lost
		}
		s.mu.Unlock()
		return lost
	}
	return err
}

// Close kills the session's sandbox, interrupting a call in flight, and waits
// for the kill. It returns the kill's error, if it failed (the primitive's
// Close then tries again). Calls after Close fail with ErrClosed. Close is
// idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrClosed)
	return s.p.killLease(context.Background(), s.lease())
}
