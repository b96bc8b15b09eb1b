package tta

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNotFound = errors.New("not found")

func TestBreakerStateString(t *testing.T) {
	for _, tc := range []struct {
		s    BreakerState
		want string
	}{
		{StateClosed, "closed"},
		{StateOpen, "open"},
		{StateHalfOpen, "half-open"},
		{BreakerState(7), "BreakerState(7)"},
	} {
		assert.Equal(t, tc.want, tc.s.String())
	}
	var zero BreakerState
	assert.Equal(t, StateClosed, zero)
}

// breakerStep is one call of a scripted breaker test: first advance fake time
// by sleep, then call the breaker with p set to return err.
type breakerStep struct {
	sleep      time.Duration
	err        error        // what p returns when called
	wantCalled bool         // whether p must have been called
	wantErr    error        // errors.Is target for the returned error; nil: success
	wantState  BreakerState // state after the call
}

func TestBreakerTransitions(t *testing.T) {
	notFoundIsFine := BreakerFailureIf(func(err error) bool { return !errors.Is(err, errNotFound) })
	for _, tc := range []struct {
		name  string
		opts  []BreakerOption
		steps []breakerStep
	}{
		{
			name: "defaults: five consecutive failures open, 30s later a success closes",
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 30*time.Second - time.Millisecond, wantErr: ErrCircuitOpen, wantState: StateOpen},
				{sleep: time.Millisecond, wantCalled: true, wantState: StateClosed},
			},
		},
		{
			name: "a success resets the consecutive failure count",
			opts: []BreakerOption{FailureThreshold(2)},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{wantCalled: true, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
			},
		},
		{
			name: "open rejects without calling p until OpenDuration passes",
			opts: []BreakerOption{FailureThreshold(1), OpenDuration(time.Minute)},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{wantErr: ErrCircuitOpen, wantState: StateOpen},
				{sleep: 59 * time.Second, wantErr: ErrCircuitOpen, wantState: StateOpen},
				{sleep: time.Second, wantCalled: true, wantState: StateClosed},
			},
		},
		{
			name: "a failed trial opens the circuit for another OpenDuration",
			opts: []BreakerOption{FailureThreshold(1)},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 30 * time.Second, err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 29 * time.Second, wantErr: ErrCircuitOpen, wantState: StateOpen},
				{sleep: time.Second, wantCalled: true, wantState: StateClosed},
			},
		},
		{
			name: "SuccessesToClose trial successes are needed to close",
			opts: []BreakerOption{FailureThreshold(1), SuccessesToClose(3)},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 30 * time.Second, wantCalled: true, wantState: StateHalfOpen},
				{wantCalled: true, wantState: StateHalfOpen},
				{wantCalled: true, wantState: StateClosed},
			},
		},
		{
			name: "a failure after some trial successes reopens",
			opts: []BreakerOption{FailureThreshold(1), SuccessesToClose(2)},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 30 * time.Second, wantCalled: true, wantState: StateHalfOpen},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{wantErr: ErrCircuitOpen, wantState: StateOpen},
			},
		},
		{
			name: "errors BreakerFailureIf rejects count as successes",
			opts: []BreakerOption{FailureThreshold(2), notFoundIsFine},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errNotFound, wantCalled: true, wantErr: errNotFound, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errNotFound, wantCalled: true, wantErr: errNotFound, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateClosed},
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
			},
		},
		{
			name: "BreakerFailureIf success closes a half-open circuit",
			opts: []BreakerOption{FailureThreshold(1), notFoundIsFine},
			steps: []breakerStep{
				{err: errBoom, wantCalled: true, wantErr: errBoom, wantState: StateOpen},
				{sleep: 30 * time.Second, err: errNotFound, wantCalled: true, wantErr: errNotFound, wantState: StateClosed},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var next error
				called := false
				p := Func[int, int](func(ctx context.Context, in int) (int, error) {
					called = true
					if next != nil {
						return 0, next
					}
					return in * 2, nil
				})
				b := CircuitBreaker(p, tc.opts...)
				require.Equal(t, StateClosed, b.State())
				for i, s := range tc.steps {
					time.Sleep(s.sleep)
					next, called = s.err, false
					out, err := b.Execute(t.Context(), 21)
					assert.Equal(t, s.wantCalled, called, "step %d: p called", i)
					if s.wantErr == nil {
						require.NoError(t, err, "step %d", i)
						assert.Equal(t, 42, out, "step %d", i)
					} else {
						require.ErrorIs(t, err, s.wantErr, "step %d", i)
						assert.Zero(t, out, "step %d", i)
					}
					assert.Equal(t, s.wantState, b.State(), "step %d: state", i)
				}
			})
		})
	}
}

func TestBreakerOpenErrorSaysWhenItHalfOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := CircuitBreaker[int, int](failNTimes(1, errBoom), FailureThreshold(1), OpenDuration(45*time.Second))
		_, err := b.Execute(t.Context(), 0)
		require.ErrorIs(t, err, errBoom)

		_, err = b.Execute(t.Context(), 0)
		require.ErrorIs(t, err, ErrCircuitOpen)
		assert.EqualError(t, err, "tta: circuit open: half-open in 45s")

		time.Sleep(15 * time.Second)
		_, err = b.Execute(t.Context(), 0)
		assert.EqualError(t, err, "tta: circuit open: half-open in 30s")
		var ra RetryAfterError
		require.ErrorAs(t, err, &ra)
		assert.Equal(t, 30*time.Second, ra.RetryAfter())
	})
}

func TestBreakerOnStateChangeOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		var b *Breaker[int, int]
		hook := OnStateChange(func(from, to BreakerState) {
			// State may be called from the hook: it runs outside the lock.
			got = append(got, from.String()+"->"+to.String()+" (now "+b.State().String()+")")
		})
		var fail atomic.Bool
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if fail.Load() {
				return 0, errBoom
			}
			return in, nil
		})
		b = CircuitBreaker(p, FailureThreshold(2), hook)

		fail.Store(true)
		_, _ = b.Execute(t.Context(), 0)
		_, _ = b.Execute(t.Context(), 0) // opens
		time.Sleep(30 * time.Second)
		_, _ = b.Execute(t.Context(), 0) // half-opens, trial fails: opens
		time.Sleep(30 * time.Second)
		assert.Equal(t, StateHalfOpen, b.State()) // half-opens lazily here
		fail.Store(false)
		_, _ = b.Execute(t.Context(), 0) // trial succeeds: closes

		assert.Equal(t, []string{
			"closed->open (now open)",
			"open->half-open (now half-open)",
			"half-open->open (now open)",
			"open->half-open (now half-open)",
			"half-open->closed (now closed)",
		}, got)
	})
}

// TestBreakerOnStateChangeOrderUnderConcurrency checks, under -race, that
// concurrent transitions reach the hook one at a time and in order: each
// transition starts from the state the previous one ended in.
func TestBreakerOnStateChangeOrderUnderConcurrency(t *testing.T) {
	var (
		inHook  atomic.Bool
		overlap atomic.Bool
		mu      sync.Mutex
		changes []stateChange
	)
	hook := OnStateChange(func(from, to BreakerState) {
		if !inHook.CompareAndSwap(false, true) {
			overlap.Store(true)
		}
		mu.Lock()
		changes = append(changes, stateChange{from, to})
		mu.Unlock()
		inHook.Store(false)
	})
	p := &counter{fail: func(call int) error {
		if call%3 != 0 {
			return errBoom
		}
		return nil
	}}
	b := CircuitBreaker[int, int](p, FailureThreshold(2), OpenDuration(time.Nanosecond), SuccessesToClose(2), hook)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				_, _ = b.Execute(t.Context(), 0)
			}
		})
	}
	wg.Wait()

	assert.False(t, overlap.Load(), "hook ran concurrently with itself")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, changes)
	assert.Equal(t, StateClosed, changes[0].from)
	for i := 1; i < len(changes); i++ {
		require.Equal(t, changes[i-1].to, changes[i].from, "transition %d out of order: %v", i, changes)
	}
}

func TestBreakerHookPanicDoesNotStopLaterHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []BreakerState
		hook := OnStateChange(func(from, to BreakerState) {
			got = append(got, to)
			if to == StateOpen && len(got) == 1 {
				panic("hook failed")
			}
		})
		b := CircuitBreaker[int, int](failNTimes(1, errBoom), FailureThreshold(1), hook)
		require.PanicsWithValue(t, "hook failed", func() { _, _ = b.Execute(t.Context(), 0) })
		time.Sleep(30 * time.Second)
		_, err := b.Execute(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, []BreakerState{StateOpen, StateHalfOpen, StateClosed}, got)
	})
}

func TestBreakerHalfOpenLimitsConcurrentTrials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var fail atomic.Bool
		var calls atomic.Int32
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			calls.Add(1)
			if fail.Load() {
				return 0, errBoom
			}
			<-gate
			return in, nil
		})
		b := CircuitBreaker(p, FailureThreshold(1), SuccessesToClose(2))

		fail.Store(true)
		_, err := b.Execute(t.Context(), 0)
		require.ErrorIs(t, err, errBoom)
		fail.Store(false)
		time.Sleep(30 * time.Second)

		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, err := b.Execute(t.Context(), 1)
				assert.NoError(t, err)
			})
		}
		synctest.Wait() // both trials are blocked in p

		require.Equal(t, StateHalfOpen, b.State())
		_, err = b.Execute(t.Context(), 1)
		require.ErrorIs(t, err, ErrCircuitOpen)
		assert.EqualError(t, err, "tta: circuit open: half-open with 2 trial call(s) in flight; try again when they finish")
		var ra RetryAfterError
		require.ErrorAs(t, err, &ra)
		assert.Zero(t, ra.RetryAfter())
		assert.Equal(t, int32(3), calls.Load(), "the third trial must not reach p")

		close(gate)
		wg.Wait()
		assert.Equal(t, StateClosed, b.State())
	})
}

func TestBreakerHalfOpenAdmitsOnlyTheTrialsStillNeeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var fail atomic.Bool
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if fail.Load() {
				return 0, errBoom
			}
			if in == 1 {
				<-gate
			}
			return in, nil
		})
		b := CircuitBreaker(p, FailureThreshold(1), SuccessesToClose(2))
		fail.Store(true)
		_, _ = b.Execute(t.Context(), 0)
		fail.Store(false)
		time.Sleep(30 * time.Second)

		_, err := b.Execute(t.Context(), 0) // one success: one more needed
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := b.Execute(t.Context(), 1)
			assert.NoError(t, err)
		})
		synctest.Wait()
		_, err = b.Execute(t.Context(), 0)
		require.ErrorIs(t, err, ErrCircuitOpen, "only one more trial is needed and it is in flight")
		close(gate)
		wg.Wait()
		assert.Equal(t, StateClosed, b.State())
	})
}

// A call that began in an earlier state must not decide the current one: a
// slow success started while closed cannot close a half-open circuit.
func TestBreakerIgnoresResultsFromEarlierStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			switch in {
			case 0:
				return 0, errBoom
			case 1:
				<-gate
			}
			return in, nil
		})
		b := CircuitBreaker(p, FailureThreshold(1))

		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := b.Execute(t.Context(), 1) // slow, started while closed
			assert.NoError(t, err)
		})
		synctest.Wait()
		_, err := b.Execute(t.Context(), 0)
		require.ErrorIs(t, err, errBoom)
		time.Sleep(30 * time.Second)
		require.Equal(t, StateHalfOpen, b.State())

		close(gate)
		wg.Wait()
		assert.Equal(t, StateHalfOpen, b.State(), "the stale success must be ignored")

		_, err = b.Execute(t.Context(), 2)
		require.NoError(t, err)
		assert.Equal(t, StateClosed, b.State())
	})
}

func TestBreakerCallerCancellationIsNotCounted(t *testing.T) {
	alwaysFailure := BreakerFailureIf(func(error) bool { return true })
	for _, tc := range []struct {
		name      string
		opts      []BreakerOption
		ctx       func(t *testing.T) context.Context
		p         Primitive[int, int]
		wantErr   error
		wantState BreakerState
	}{
		{
			name: "caller cancelled",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			p:         blockUntilDone,
			wantErr:   context.Canceled,
			wantState: StateClosed,
		},
		{
			name: "caller deadline passed",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				t.Cleanup(cancel)
				return ctx
			},
			p:         blockUntilDone,
			wantErr:   context.DeadlineExceeded,
			wantState: StateClosed,
		},
		{
			name: "caller cancelled, whatever BreakerFailureIf says",
			opts: []BreakerOption{alwaysFailure},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			p:         blockUntilDone,
			wantErr:   context.Canceled,
			wantState: StateClosed,
		},
		{
			name: "a deadline inside p counts: the caller did not give up",
			ctx:  func(t *testing.T) context.Context { return t.Context() },
			p: Func[int, int](func(ctx context.Context, in int) (int, error) {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				<-ctx.Done()
				return 0, ctx.Err()
			}),
			wantErr:   context.DeadlineExceeded,
			wantState: StateOpen,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := CircuitBreaker(tc.p, append([]BreakerOption{FailureThreshold(1)}, tc.opts...)...)
				_, err := b.Execute(tc.ctx(t), 0)
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, tc.wantState, b.State())
			})
		})
	}
}

func TestBreakerCancelledTrialFreesItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fail atomic.Bool
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if fail.Load() {
				return 0, errBoom
			}
			return in, nil
		})
		b := CircuitBreaker(p, FailureThreshold(1))
		fail.Store(true)
		_, _ = b.Execute(t.Context(), 0)
		fail.Store(false)
		time.Sleep(30 * time.Second)

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := b.Execute(ctx, 0)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, StateHalfOpen, b.State(), "a cancelled trial neither closes nor opens")

		_, err = b.Execute(t.Context(), 0)
		require.NoError(t, err, "the cancelled trial's slot must be free again")
		assert.Equal(t, StateClosed, b.State())
	})
}

func TestBreakerPanicCountsAsFailure(t *testing.T) {
	p := Func[int, int](func(ctx context.Context, in int) (int, error) { panic("kaboom") })
	b := CircuitBreaker(p, FailureThreshold(1))
	require.PanicsWithValue(t, "kaboom", func() { _, _ = b.Execute(t.Context(), 0) })
	assert.Equal(t, StateOpen, b.State())
}

// Under concurrent failures the circuit opens once FailureThreshold failures
// are in, and then no call reaches p: at most the calls already in flight
// (one per other goroutine) finish after it opened.
func TestBreakerConcurrentFailuresOpenOnce(t *testing.T) {
	const goroutines, perGoroutine, threshold = 8, 100, 3
	p := failNTimes(goroutines*perGoroutine, errBoom)
	var opened atomic.Int32
	b := CircuitBreaker[int, int](p, FailureThreshold(threshold), OpenDuration(time.Hour),
		OnStateChange(func(from, to BreakerState) { opened.Add(1) }))
	var wg sync.WaitGroup
	var rejected atomic.Int64
	for range goroutines {
		wg.Go(func() {
			for range perGoroutine {
				_, err := b.Execute(t.Context(), 0)
				if errors.Is(err, ErrCircuitOpen) {
					rejected.Add(1)
				} else {
					assert.ErrorIs(t, err, errBoom)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, StateOpen, b.State())
	assert.Equal(t, int32(1), opened.Load(), "exactly one transition, closed to open")
	assert.GreaterOrEqual(t, p.Calls(), threshold)
	assert.LessOrEqual(t, p.Calls(), threshold+goroutines-1)
	assert.Equal(t, int64(goroutines*perGoroutine-p.Calls()), rejected.Load())
}

func TestBreakerClosedDoesNotAllocate(t *testing.T) {
	assertNoAllocs(t, CircuitBreaker[int, int](succeeding()))
}

func TestBreakerConstructionPanics(t *testing.T) {
	var nilFunc Func[int, int]
	assertMisusePanics(t, []misuseCase{
		{"nil primitive", "tta: CircuitBreaker: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { CircuitBreaker[int, int](nil) }},
		{"typed nil Func", "tta: CircuitBreaker: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { CircuitBreaker[int, int](nilFunc) }},
		{"nil option", "tta: CircuitBreaker: second option is nil; pass options such as tta.FailureThreshold(5)",
			func() { CircuitBreaker[int, int](succeeding(), FailureThreshold(1), nil) }},
		{"FailureThreshold 0", "tta: CircuitBreaker: FailureThreshold must be >= 1, got 0; use 1 to open on the first failure",
			func() { FailureThreshold(0) }},
		{"FailureThreshold negative", "tta: CircuitBreaker: FailureThreshold must be >= 1, got -3; use 1 to open on the first failure",
			func() { FailureThreshold(-3) }},
		{"OpenDuration 0", "tta: CircuitBreaker: OpenDuration must be > 0, got 0s; pass how long to reject calls after the circuit opens, such as 30*time.Second",
			func() { OpenDuration(0) }},
		{"OpenDuration negative", "tta: CircuitBreaker: OpenDuration must be > 0, got -1s; pass how long to reject calls after the circuit opens, such as 30*time.Second",
			func() { OpenDuration(-time.Second) }},
		{"SuccessesToClose 0", "tta: CircuitBreaker: SuccessesToClose must be >= 1, got 0; use 1 to close on the first successful trial call",
			func() { SuccessesToClose(0) }},
		{"BreakerFailureIf nil", "tta: CircuitBreaker: BreakerFailureIf function is nil; pass a func(error) bool that reports whether an error counts as a failure, or drop the option to count every error",
			func() { BreakerFailureIf(nil) }},
		{"OnStateChange nil", "tta: CircuitBreaker: OnStateChange hook is nil; pass a func(from, to BreakerState) or drop the option",
			func() { OnStateChange(nil) }},
	})
}

func BenchmarkBreakerClosed(b *testing.B) {
	br := CircuitBreaker[int, int](succeeding())
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = br.Execute(ctx, 1)
	}
}
