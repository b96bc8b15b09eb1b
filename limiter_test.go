package tta_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// countingRuntime is a ScriptedRuntime that counts, as the server sees them,
// the sandboxes alive at once and when each was started.
type countingRuntime struct {
	e2bserver.ScriptedRuntime

	mu      sync.Mutex // protects the fields below
	live    int
	maxLive int
	starts  []time.Time
}

func (rt *countingRuntime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	inst, err := rt.ScriptedRuntime.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.live++
	rt.maxLive = max(rt.maxLive, rt.live)
	rt.starts = append(rt.starts, time.Now())
	return &countedInstance{Instance: inst, closed: sync.OnceFunc(func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		rt.live--
	})}, nil
}

type countedInstance struct {
	e2bserver.Instance
	closed func()
}

func (i *countedInstance) Close() error {
	i.closed()
	return i.Instance.Close()
}

// A hundred calls at once on the Hobby plan's limits: the server never sees
// more than 20 sandboxes at once nor two creates less than a second apart,
// and every call completes.
func TestCreateLimit_HundredCallsStayWithinTheHobbyPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{ScriptedRuntime: e2bserver.ScriptedRuntime{
			Replies: map[string]e2bserver.Reply{"work()": {Duration: 30 * time.Second, Result: "done"}},
		}}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		exec := testenv.ServerExec(t, env, tta.WithCreateLimit(tta.HobbyPlan))

		const calls = 100
		start := time.Now()
		errs := make([]error, calls)
		outs := make([]tta.CodeOutput, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { outs[i], errs[i] = exec.Execute(t.Context(), tta.CodeInput{Code: "work()"}) })
		}
		wg.Wait()
		for i := range calls {
			require.NoError(t, errs[i], "call %d", i)
			require.Len(t, outs[i].Results, 1)
			assert.Equal(t, "done", outs[i].Results[0].Text)
		}

		rt.mu.Lock()
		defer rt.mu.Unlock()
		require.Len(t, rt.starts, calls)
		assert.Equal(t, tta.HobbyPlan.Concurrent, rt.maxLive, "the concurrency bound is reached, never passed")
		assert.Zero(t, rt.live)
		starts := slices.Clone(rt.starts)
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(starts); i++ {
			assert.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), time.Second, "creates %d and %d", i-1, i)
		}
		// 20 at a time, 30 s each: five rounds at least.
		assert.GreaterOrEqual(t, time.Since(start), 5*30*time.Second)
	})
}

// One limit shared by two primitives: a session of one holds the only slot
// and the other's call waits until it is closed.
func TestLimitCreates_IsSharedBetweenPrimitives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		limited := tta.LimitCreates(p, tta.CreateLimit{PerSecond: 100, Concurrent: 1})
		a := testenv.NewExec(t, func() []string { return nil }, tta.WithProvider(limited))
		b := testenv.NewExec(t, func() []string { return nil }, tta.WithProvider(limited))

		s, err := a.NewSession(t.Context())
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := b.Execute(t.Context(), tta.CodeInput{Code: "1"})
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("the call did not wait for the slot: %v", err)
		default:
		}
		assert.Len(t, p.Sandboxes(), 1)

		time.Sleep(time.Minute)
		require.NoError(t, s.Close())
		require.NoError(t, <-done)
		assert.Len(t, p.Sandboxes(), 2)
		p.AssertNoLeaks(t)
	})
}

// Waiting for a slot ends with the caller's context, with an error that says
// what was waited for.
func TestLimitCreates_WaitEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithCreateLimit(tta.CreateLimit{PerSecond: 1, Concurrent: 1}))
		s, err := exec.NewSession(t.Context())
		require.NoError(t, err)
		defer s.Close()

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = exec.Execute(ctx, tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "waiting for a sandbox slot (limit 1 sandboxes, 1 create/s)")
		assert.False(t, tta.IsTransient(err))
		assert.Equal(t, 5*time.Second, time.Since(start))
		assert.Len(t, p.Sandboxes(), 1)
	})
}

// The rate spaces creates even when slots are free, and a wait for the rate
// ends with the context too.
func TestLimitCreates_SpacesCreates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		limited := tta.LimitCreates(p, tta.CreateLimit{PerSecond: 4, Concurrent: 10})
		start := time.Now()
		var sbs []tta.Sandbox
		for range 3 {
			sb, err := limited.Create(t.Context(), tta.CreateRequest{Timeout: time.Minute})
			require.NoError(t, err)
			sbs = append(sbs, sb)
		}
		assert.Equal(t, 500*time.Millisecond, time.Since(start), "three creates at 4/s")

		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := limited.Create(ctx, tta.CreateRequest{Timeout: time.Minute})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "waiting for the create rate")
		for _, sb := range sbs {
			require.NoError(t, sb.Kill(t.Context()))
		}
		p.AssertNoLeaks(t)
	})
}

// A failed create, a kill and a sandbox found gone each give the slot back;
// a kill that fails keeps it.
func TestLimitCreates_SlotsComeBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		limited := tta.LimitCreates(p, tta.CreateLimit{PerSecond: 1000, Concurrent: 1})
		create := func() (tta.Sandbox, error) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			return limited.Create(ctx, tta.CreateRequest{Timeout: time.Minute})
		}

		p.Fail(ttatest.Fault{Op: ttatest.OpCreate, Err: errors.New("boom"), Nth: 1})
		_, err := create()
		require.ErrorContains(t, err, "boom")

		sb, err := create()
		require.NoError(t, err, "a failed create gave its slot back")
		p.Sandbox(sb.ID()).Expire()
		_, err = sb.RunCode(t.Context(), tta.RunRequest{Code: "1", Language: "python"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		expired := sb

		sb, err = create()
		require.NoError(t, err, "a sandbox found gone gave its slot back")
		p.Fail(ttatest.Fault{Op: ttatest.OpKill, Err: errors.New("kill failed"), Nth: 1})
		require.Error(t, sb.Kill(t.Context()))
		_, err = create()
		require.ErrorIs(t, err, context.DeadlineExceeded, "a sandbox whose kill failed keeps its slot")
		require.NoError(t, sb.Kill(t.Context()))

		sb, err = create()
		require.NoError(t, err, "a kill gave the slot back")
		require.NoError(t, sb.Kill(t.Context()))
		require.NoError(t, sb.Kill(t.Context()), "killing twice gives back one slot")
		last, err := create()
		require.NoError(t, err)
		_, err = create()
		require.ErrorIs(t, err, context.DeadlineExceeded, "killing twice gave back one slot, not two")
		require.NoError(t, last.Kill(t.Context()))
		require.NoError(t, expired.Kill(t.Context()))
		p.AssertNoLeaks(t)
	})
}

// A 429 the provider answers anyway still reaches Retry with its Retry-After.
func TestLimitCreates_RateLimitAnswerStillRetriedAfterItsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Status: 429, RetryAfter: 7 * time.Second, Times: 1})
		exec := testenv.ServerExec(t, env, tta.WithCreateLimit(tta.CreateLimit{PerSecond: 1, Concurrent: 1}))
		flow := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(2))
		start := time.Now()
		_, err := flow.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 7*time.Second)
		assert.Equal(t, 2, env.Server.Calls(e2bserver.OpCreate))
	})
}

func TestCreateLimitMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		limit tta.CreateLimit
		want  string
	}{
		{tta.CreateLimit{PerSecond: 1}, "tta: WithCreateLimit: Concurrent must be > 0, got 0; use tta.HobbyPlan or tta.ProPlan for E2B's plans"},
		{tta.CreateLimit{Concurrent: 1}, "tta: WithCreateLimit: PerSecond must be a finite number > 0, got 0; use tta.HobbyPlan or tta.ProPlan for E2B's plans"},
	} {
		assert.PanicsWithValue(t, tc.want, func() { tta.WithCreateLimit(tc.limit) })
	}
	assert.PanicsWithValue(t, "tta: LimitCreates: provider is nil", func() { tta.LimitCreates(nil, tta.HobbyPlan) })
	assert.Equal(t, "100 sandboxes, 5 create/s", tta.ProPlan.String())
}
