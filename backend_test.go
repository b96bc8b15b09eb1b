package tta_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// The seed tests run against every backend in backends: the in-memory fake of
// package ttatest, and the E2B-compatible server over HTTP. A backend is
// started inside the test's synctest bubble and knows the templates given,
// described with ttatest.FakeTemplate (ID, Name, ReadyAfter, NeverReady).

// seedEnv is one running backend.
type seedEnv interface {
	// provider returns the backend's tta.Provider.
	provider() tta.Provider
	// script makes every run of exactly code produce out (Stdout, Error and
	// Delay are honoured).
	script(code string, out ttatest.Output)
	// failRuns makes the next n runs fail with a transient error before the
	// code starts.
	failRuns(n int)
	// failKills makes the next n kills fail with a transient error.
	failKills(n int)
	// live returns the IDs of the sandboxes the backend still runs.
	live() []string
	// close stops the backend. It must be called before the bubble ends.
	close()
}

type backend struct {
	name  string
	start func(t *testing.T, templates ...ttatest.FakeTemplate) seedEnv
}

// backends lists every backend the seed tests run against.
var backends = []backend{
	{name: "ttatest", start: startFake},
	{name: "e2bserver", start: startE2B},
}

// fakeEnv is the ttatest backend.
type fakeEnv struct{ p *ttatest.FakeProvider }

func startFake(t *testing.T, templates ...ttatest.FakeTemplate) seedEnv {
	return fakeEnv{p: ttatest.NewFakeProvider(templates...)}
}

func (e fakeEnv) provider() tta.Provider                 { return e.p }
func (e fakeEnv) script(code string, out ttatest.Output) { e.p.Script(code, out) }
func (e fakeEnv) close()                                 {}

func (e fakeEnv) failRuns(n int) {
	for i := range n {
		e.p.Fail(ttatest.Fault{Op: ttatest.OpRun, Nth: e.p.Calls(ttatest.OpRun) + i + 1,
			Err: ttatest.Transient(ttatest.ErrConnectionRefused)})
	}
}

func (e fakeEnv) failKills(n int) {
	for i := range n {
		e.p.Fail(ttatest.Fault{Op: ttatest.OpKill, Nth: e.p.Calls(ttatest.OpKill) + i + 1,
			Err: ttatest.Transient(errors.New("503 service unavailable"))})
	}
}

func (e fakeEnv) live() []string {
	var ids []string
	for _, sb := range e.p.Leaked() {
		ids = append(ids, sb.ID())
	}
	return ids
}

// recorder wraps a backend's provider and records, whatever the backend, the
// sandboxes created, the ones code ran in, the ones killed, and when each was
// probed. With killDelay set, every kill waits that long before it reaches
// the backend.
type recorder struct {
	tta.Provider
	env seedEnv // the backend whose provider it wraps

	mu        sync.Mutex // protects the fields below
	created   []string
	ran       []string // sandboxes RunCode was called on, in order, once each
	killed    map[string]bool
	probes    map[string][]time.Time
	order     []string // "create sbx", "kill sbx", in order
	killDelay time.Duration
}

func record(env seedEnv) *recorder {
	return &recorder{Provider: env.provider(), env: env, killed: map[string]bool{}, probes: map[string][]time.Time{}}
}

// slowKills makes every later kill wait d before it reaches the backend.
func (r *recorder) slowKills(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killDelay = d
}

func (r *recorder) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := r.Provider.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, sb.ID())
	r.order = append(r.order, "create "+sb.ID())
	return &recordedSandbox{Sandbox: sb, r: r}, nil
}

func (r *recorder) createdIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.created)
}

// ranIDs returns the sandboxes code was run in (successfully or not).
func (r *recorder) ranIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ran)
}

func (r *recorder) killedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, id := range r.created {
		if r.killed[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

func (r *recorder) probeTimes(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.probes[id])
}

// assertAllKilled checks that every sandbox created was killed, as seen by
// the client and by the backend.
func (r *recorder) assertAllKilled(t *testing.T, env seedEnv) {
	t.Helper()
	created := r.createdIDs()
	if len(created) == 0 {
		t.Errorf("no sandbox was created")
	}
	if killed := r.killedIDs(); !slices.Equal(killed, created) {
		t.Errorf("sandboxes created %v, killed %v", created, killed)
	}
	if live := env.live(); len(live) > 0 {
		t.Errorf("backend still runs sandboxes %v", live)
	}
}

// assertRanKilled checks that every sandbox code ran in was killed, as seen
// by the client and by the backend; with a warm pool, the pool's sandboxes
// stay alive until Close.
func (r *recorder) assertRanKilled(t *testing.T, env seedEnv) {
	t.Helper()
	ran := r.ranIDs()
	if len(ran) == 0 {
		t.Errorf("no code ran")
	}
	live := env.live()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ran {
		if !r.killed[id] {
			t.Errorf("sandbox %s ran code and was not killed", id)
		}
		if slices.Contains(live, id) {
			t.Errorf("backend still runs sandbox %s, which ran code", id)
		}
	}
}

type recordedSandbox struct {
	tta.Sandbox
	r *recorder
}

func (s *recordedSandbox) Probe(ctx context.Context) error {
	s.r.mu.Lock()
	s.r.probes[s.ID()] = append(s.r.probes[s.ID()], time.Now())
	s.r.mu.Unlock()
	return s.Sandbox.Probe(ctx)
}

func (s *recordedSandbox) RunCode(ctx context.Context, req tta.RunRequest) (tta.Execution, error) {
	s.r.mu.Lock()
	if !slices.Contains(s.r.ran, s.ID()) {
		s.r.ran = append(s.r.ran, s.ID())
	}
	s.r.mu.Unlock()
	return s.Sandbox.RunCode(ctx, req)
}

func (s *recordedSandbox) Kill(ctx context.Context) error {
	s.r.mu.Lock()
	d := s.r.killDelay
	s.r.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.Sandbox.Kill(ctx)
	if err == nil {
		s.r.mu.Lock()
		s.r.killed[s.ID()] = true
		s.r.order = append(s.r.order, "kill "+s.ID())
		s.r.mu.Unlock()
	}
	return err
}

// forEachBackend runs body in a synctest bubble once per backend, with the
// backend started with templates and its provider recorded.
func forEachBackend(t *testing.T, templates []ttatest.FakeTemplate, body func(t *testing.T, env seedEnv, rec *recorder)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env := b.start(t, templates...)
				defer env.close()
				body(t, env, record(env))
			})
		})
	}
}
