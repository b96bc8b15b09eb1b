package tta

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// CreateLimit bounds the sandboxes of one account on the client side: how
// fast they are created and how many live at once, so that a burst of calls
// waits its turn instead of meeting the provider's rate limit or its cap on
// concurrent sandboxes. It is a plain value; HobbyPlan and ProPlan are E2B's
// plans.
type CreateLimit struct {
	// PerSecond is the most creates started per second: creates start at
	// least 1/PerSecond apart, with no burst. It must be > 0.
	PerSecond float64
	// Concurrent is the most sandboxes alive at once, each counted from the
	// start of its create until its Kill succeeds or it is found gone. It
	// must be > 0.
	Concurrent int
}

// The limits of E2B's plans.
var (
	// HobbyPlan is E2B's Hobby plan: 20 concurrent sandboxes, 1 create per
	// second.
	HobbyPlan = CreateLimit{PerSecond: 1, Concurrent: 20}
	// ProPlan is E2B's Pro plan: 100 concurrent sandboxes, 5 creates per
	// second.
	ProPlan = CreateLimit{PerSecond: 5, Concurrent: 100}
)

// String describes the limit: "20 sandboxes, 1 create/s".
func (l CreateLimit) String() string {
	return fmt.Sprintf("%d sandboxes, %g create/s", l.Concurrent, l.PerSecond)
}

// check returns why l is not a usable limit, or "".
func (l CreateLimit) check() string {
	switch {
	case l.Concurrent <= 0:
		return fmt.Sprintf("Concurrent must be > 0, got %d; use tta.HobbyPlan or tta.ProPlan for E2B's plans", l.Concurrent)
	case !(l.PerSecond > 0) || math.IsInf(l.PerSecond, 1):
		return fmt.Sprintf("PerSecond must be a finite number > 0, got %g; use tta.HobbyPlan or tta.ProPlan for E2B's plans", l.PerSecond)
	}
	return ""
}

// WithCreateLimit makes the primitive's sandboxes, those of Execute, of its
// sessions and of its warm pool alike, obey limit (see LimitCreates). To
// share one limit between several primitives on the same account, give each
// the same LimitCreates provider with WithProvider instead. WithCreateLimit
// panics if limit is not valid (see CreateLimit).
func WithCreateLimit(limit CreateLimit) Option {
	if msg := limit.check(); msg != "" {
		misuse("WithCreateLimit", "%s", msg)
	}
	return func(c *codeConfig) { c.createLimit = &limit }
}

// LimitCreates returns a Provider that creates p's sandboxes within limit:
// a Create first waits for one of limit.Concurrent slots, then for its turn
// at limit.PerSecond, and only then calls p. The slot is taken back when
// Create fails, when the sandbox's Kill succeeds (or finds it gone), and when
// any of its methods finds it gone; a sandbox whose kill keeps failing keeps
// its slot, since it may still be running. Waiting ends with ctx: Create then
// returns an error that wraps ctx's cause, is not transient and names the
// limit. A turn at the rate is spent even when its Create then gives up, so
// that the rate is never exceeded.
//
// Errors of p pass through unchanged: a 429 the provider answers anyway is
// still transient with its Retry-After, for Retry to honour.
//
// Share one LimitCreates provider among all the primitives that use the same
// account. It is safe for concurrent use. LimitCreates panics if p is nil or
// limit is not valid.
func LimitCreates(p Provider, limit CreateLimit) Provider {
	if isNil(p) {
		misuse("LimitCreates", "provider is nil")
	}
	if msg := limit.check(); msg != "" {
		misuse("LimitCreates", "%s", msg)
	}
	return &limitedProvider{
		p:        p,
		limit:    limit,
		interval: time.Duration(float64(time.Second) / limit.PerSecond),
		slots:    make(chan struct{}, limit.Concurrent),
	}
}

// limitedProvider is LimitCreates's Provider.
type limitedProvider struct {
	p        Provider
	limit    CreateLimit
	interval time.Duration
	slots    chan struct{} // holds a token for each sandbox alive or being created

	mu   sync.Mutex // protects next
	next time.Time  // when the next create may start
}

func (lp *limitedProvider) Create(ctx context.Context, req CreateRequest) (Sandbox, error) {
	select {
	case lp.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("tta: waiting for a sandbox slot (limit %s): %w", lp.limit, context.Cause(ctx))
	}
	release := sync.OnceFunc(func() { <-lp.slots })
	if err := lp.turn(ctx); err != nil {
		release()
		return nil, err
	}
	sb, err := lp.p.Create(ctx, req)
	if err != nil {
		release()
		return nil, err
	}
	return &limitedSandbox{Sandbox: sb, release: release}, nil
}

// turn waits until the rate lets the next create start.
func (lp *limitedProvider) turn(ctx context.Context) error {
	lp.mu.Lock()
	now := time.Now()
	at := lp.next
	if at.Before(now) {
		at = now
	}
	lp.next = at.Add(lp.interval)
	lp.mu.Unlock()
	wait := at.Sub(now)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tta: waiting for the create rate (limit %s): %w", lp.limit, context.Cause(ctx))
	}
}

// reapOrphans passes WithReapAtStart through to the limited provider.
func (lp *limitedProvider) reapOrphans(ctx context.Context, owner string) (*e2b.ReapReport, error) {
	r, ok := lp.p.(orphanReaper)
	if !ok {
		return nil, fmt.Errorf("tta: the provider %T cannot list sandboxes", lp.p)
	}
	return r.reapOrphans(ctx, owner)
}

// canReap reports whether the limited provider can reap orphans.
func (lp *limitedProvider) canReap() bool {
	_, ok := lp.p.(orphanReaper)
	return ok
}

// unlimited returns the provider behind LimitCreates, or p itself.
func unlimited(p Provider) Provider {
	if lp, ok := p.(*limitedProvider); ok {
		return lp.p
	}
	return p
}

// limitedSandbox is a sandbox of LimitCreates: it gives its slot back once it
// is killed or found gone.
type limitedSandbox struct {
	Sandbox
	release func() // idempotent
}

// gone gives the slot back when err says the sandbox is gone, and returns err.
func (s *limitedSandbox) gone(err error) error {
	if errors.Is(err, ErrSandboxGone) {
		s.release()
	}
	return err
}

func (s *limitedSandbox) Kill(ctx context.Context) error {
	err := s.Sandbox.Kill(ctx)
	if err == nil {
		s.release()
	}
	return s.gone(err)
}

func (s *limitedSandbox) Probe(ctx context.Context) error { return s.gone(s.Sandbox.Probe(ctx)) }

func (s *limitedSandbox) RunCode(ctx context.Context, req RunRequest) (Execution, error) {
	exec, err := s.Sandbox.RunCode(ctx, req)
	return exec, s.gone(err)
}

func (s *limitedSandbox) CreateContext(ctx context.Context, language string) (string, error) {
	id, err := s.Sandbox.CreateContext(ctx, language)
	return id, s.gone(err)
}

func (s *limitedSandbox) RunCommand(ctx context.Context, cmd string) (CommandResult, error) {
	res, err := s.Sandbox.RunCommand(ctx, cmd)
	return res, s.gone(err)
}

func (s *limitedSandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	return s.gone(s.Sandbox.WriteFile(ctx, path, data))
}

func (s *limitedSandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	return s.gone(s.Sandbox.SetTimeout(ctx, d))
}

// The sandboxes of LimitCreates can be paused when the provider's can; a
// paused sandbox keeps its slot.
var _ PausableSandbox = (*limitedSandbox)(nil)

func (s *limitedSandbox) Pause(ctx context.Context) error {
	p, ok := s.Sandbox.(PausableSandbox)
	if !ok {
		return Permanent(errNotPausable)
	}
	return s.gone(p.Pause(ctx))
}

func (s *limitedSandbox) Resume(ctx context.Context, d time.Duration) error {
	p, ok := s.Sandbox.(PausableSandbox)
	if !ok {
		return Permanent(errNotPausable)
	}
	return s.gone(p.Resume(ctx, d))
}

func (s *limitedSandbox) ContextExists(ctx context.Context, id string) (bool, error) {
	p, ok := s.Sandbox.(PausableSandbox)
	if !ok {
		return false, Permanent(errNotPausable)
	}
	exists, err := p.ContextExists(ctx, id)
	return exists, s.gone(err)
}
