package ttatest

import (
	"context"
	"time"

	"github.com/tta-dev/tta"
)

var _ tta.PausableSandbox = (*FakeSandbox)(nil)

// Pause pauses the sandbox: it does not expire while paused, and its
// interpreter answers nothing until Resume. Pausing a paused sandbox
// succeeds. With FakeTemplate.PauseLosesMemory its interpreter contexts are
// dropped.
func (s *FakeSandbox) Pause(ctx context.Context) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.faultLocked(OpPause, &s.tpl, ""); err != nil {
		return err
	}
	if err := s.goneLocked(time.Now()); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.paused = true
	if s.tpl.PauseLosesMemory {
		clear(s.contexts)
		clear(s.counts)
	}
	return nil
}

// Resume resumes a paused sandbox, or extends a running one, to expire d
// from now.
func (s *FakeSandbox) Resume(ctx context.Context, d time.Duration) error {
	now := time.Now()
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.faultLocked(OpResume, &s.tpl, ""); err != nil {
		return err
	}
	if err := s.goneLocked(now); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.paused = false
	s.deadline = now.Add(d)
	return nil
}

// ContextExists reports whether the interpreter context id exists.
func (s *FakeSandbox) ContextExists(ctx context.Context, id string) (bool, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.goneLocked(time.Now()); err != nil {
		return false, err
	}
	_, ok := s.contexts[id]
	return ok, ctx.Err()
}

// Paused reports whether the sandbox is paused.
func (s *FakeSandbox) Paused() bool {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.paused
}
