package tta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transientErr reports Transient() == transient and may wrap another error.
type transientErr struct {
	transient bool
	err       error
}

func (e transientErr) Error() string   { return fmt.Sprintf("transient=%v", e.transient) }
func (e transientErr) Transient() bool { return e.transient }
func (e transientErr) Unwrap() error   { return e.err }

// retryAfterErr asks to be retried after d.
type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string             { return "slow down" }
func (e retryAfterErr) RetryAfter() time.Duration { return e.d }

// recordDelays returns an OnRetry option that appends every event to *events.
func recordDelays(events *[]RetryEvent) RetryOption {
	return OnRetry(func(ev RetryEvent) { *events = append(*events, ev) })
}

func delaysOf(events []RetryEvent) []time.Duration {
	ds := make([]time.Duration, len(events))
	for i, ev := range events {
		ds[i] = ev.Delay
	}
	return ds
}

func TestRetryAttempts(t *testing.T) {
	tests := []struct {
		name         string
		fails        int
		opts         []RetryOption
		wantCalls    int
		wantAttempts int // 0: success expected
	}{
		{name: "first attempt succeeds", fails: 0, wantCalls: 1},
		{name: "third attempt succeeds by default", fails: 2, wantCalls: 3},
		{name: "default gives up after 3", fails: 100, wantCalls: 3, wantAttempts: 3},
		{name: "MaxAttempts(1) never retries", fails: 100, opts: []RetryOption{MaxAttempts(1)}, wantCalls: 1, wantAttempts: 1},
		{name: "MaxAttempts(5) fifth succeeds", fails: 4, opts: []RetryOption{MaxAttempts(5)}, wantCalls: 5},
		{name: "MaxAttempts(5) gives up", fails: 100, opts: []RetryOption{MaxAttempts(5)}, wantCalls: 5, wantAttempts: 5},
		{name: "RetryForever after MaxAttempts wins", fails: 10, opts: []RetryOption{MaxAttempts(2), RetryForever()}, wantCalls: 11},
		{name: "MaxAttempts after RetryForever wins", fails: 10, opts: []RetryOption{RetryForever(), MaxAttempts(2)}, wantCalls: 2, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := failNTimes(tt.fails, errBoom)
				out, err := Retry[int, int](c, tt.opts...).Execute(context.Background(), 1)
				assert.Equal(t, tt.wantCalls, c.Calls())
				if tt.wantAttempts == 0 {
					require.NoError(t, err)
					assert.Equal(t, 2, out)
					return
				}
				var re *RetryError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.wantAttempts, re.Attempts)
				assert.Same(t, errBoom, re.Last)
				assert.ErrorIs(t, err, errBoom)
			})
		})
	}
}

func TestRetryBackoffDelays(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		opts []RetryOption
		want []time.Duration
	}{
		{
			name: "doubling from 100ms capped at MaxInterval",
			opts: []RetryOption{MaxAttempts(7), MaxInterval(time.Second)},
			want: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second},
		},
		{
			name: "default cap is 10s",
			opts: []RetryOption{MaxAttempts(10)},
			want: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second},
		},
		{
			name: "Multiplier(1) is constant",
			opts: []RetryOption{MaxAttempts(4), InitialInterval(50 * ms), Multiplier(1)},
			want: []time.Duration{50 * ms, 50 * ms, 50 * ms},
		},
		{
			name: "Multiplier(3)",
			opts: []RetryOption{MaxAttempts(4), InitialInterval(10 * ms), Multiplier(3)},
			want: []time.Duration{10 * ms, 30 * ms, 90 * ms},
		},
		{
			name: "InitialInterval(0) retries at once",
			opts: []RetryOption{MaxAttempts(3), InitialInterval(0)},
			want: []time.Duration{0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var events []RetryEvent
				opts := append([]RetryOption{Jitter(0), recordDelays(&events)}, tt.opts...)
				start := time.Now()
				_, err := Retry[int, int](failNTimes(100, errBoom), opts...).Execute(context.Background(), 1)
				var re *RetryError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.want, delaysOf(events))

				var total time.Duration
				for _, d := range tt.want {
					total += d
				}
				assert.Equal(t, total, time.Since(start), "fake time slept")
				assert.Equal(t, total, re.Elapsed)
				assert.Equal(t, len(tt.want)+1, re.Attempts)
			})
		})
	}
}

func TestRetryJitterStaysInRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []RetryEvent
		_, err := Retry[int, int](failNTimes(100, errBoom), MaxAttempts(12), recordDelays(&events)).
			Execute(context.Background(), 1)
		require.Error(t, err)
		require.Len(t, events, 11)
		exact := 0
		interval := 100 * time.Millisecond
		for i, ev := range events {
			lo := time.Duration(float64(interval) * 0.5)
			hi := time.Duration(float64(interval)*1.5) + 1
			assert.GreaterOrEqual(t, ev.Delay, lo, "delay %d", i)
			assert.LessOrEqual(t, ev.Delay, hi, "delay %d", i)
			if ev.Delay == interval {
				exact++
			}
			interval = min(2*interval, 10*time.Second)
		}
		assert.Less(t, exact, len(events), "default Jitter(0.5) randomises the delays")
	})
}

func TestRetryOnRetryEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []RetryEvent
		errs := []error{errors.New("one"), errors.New("two"), errors.New("three")}
		c := &counter{fail: func(call int) error { return errs[call-1] }}
		_, err := Retry[int, int](c, Jitter(0), recordDelays(&events)).Execute(context.Background(), 1)
		require.Error(t, err)
		assert.Equal(t, []RetryEvent{
			{Attempt: 1, Err: errs[0], Delay: 100 * time.Millisecond},
			{Attempt: 2, Err: errs[1], Delay: 200 * time.Millisecond},
		}, events, "no event for the last attempt: nothing follows it")
	})
}

func TestRetryMaxElapsedTime(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name         string
		attemptTakes time.Duration
		wantAttempts int
		wantElapsed  time.Duration
		wantMsg      string
	}{
		{
			name:         "instant attempts",
			wantAttempts: 4, // starts at 0, 100ms, 300ms, 700ms; next would be 1.5s
			wantElapsed:  700 * ms,
			wantMsg:      "tta: retry: gave up after 4 attempts in 700ms (next delay 800ms would exceed MaxElapsedTime 1s): boom",
		},
		{
			name:         "attempt time counts from the start of the call",
			attemptTakes: 200 * ms,
			wantAttempts: 3, // ends at 200ms, 500ms, 900ms; next would start at 1.3s
			wantElapsed:  900 * ms,
			wantMsg:      "tta: retry: gave up after 3 attempts in 900ms (next delay 400ms would exceed MaxElapsedTime 1s): boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				p := Func[int, int](func(ctx context.Context, in int) (int, error) {
					calls++
					time.Sleep(tt.attemptTakes)
					return 0, errBoom
				})
				start := time.Now()
				_, err := Retry[int, int](p, RetryForever(), Jitter(0), MaxElapsedTime(time.Second)).
					Execute(context.Background(), 1)
				var re *RetryError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.wantAttempts, re.Attempts)
				assert.Equal(t, tt.wantAttempts, calls)
				assert.Equal(t, tt.wantElapsed, re.Elapsed)
				assert.Equal(t, tt.wantElapsed, time.Since(start), "gives up without sleeping")
				assert.EqualError(t, err, tt.wantMsg)
				assert.NotErrorIs(t, err, context.DeadlineExceeded)
			})
		})
	}
}

func TestRetryForeverStopsBeforeContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := failNTimes(1<<30, errBoom)
		start := time.Now()
		_, err := Retry[int, int](c, RetryForever(), Jitter(0)).Execute(ctx, 1)

		// Attempts start at 0, .1, .3, .7, 1.5, 3.1, 6.3, 12.7 and 22.7s; the next
		// delay (10s) would end at 32.7s, past the deadline at 30s.
		assert.Equal(t, 22700*time.Millisecond, time.Since(start))
		assert.NoError(t, ctx.Err(), "returned before the deadline")
		assert.Equal(t, 9, c.Calls())
		var re *RetryError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 9, re.Attempts)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, errBoom)
		assert.EqualError(t, err, "tta: retry: gave up after 9 attempts in 22.7s (next delay 10s would pass the context deadline, 7.3s away): boom")
	})
}

func TestRetryDeadlineNotOverslept(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCalls int
		wantSlept time.Duration
	}{
		{name: "RetryAfter beyond the deadline stops at once", err: retryAfterErr{time.Minute}, wantCalls: 1},
		{name: "delay ending exactly at the deadline stops at once", err: retryAfterErr{10 * time.Second}, wantCalls: 1},
		{name: "delay ending just before the deadline is slept", err: retryAfterErr{10*time.Second - time.Nanosecond}, wantCalls: 2, wantSlept: 10*time.Second - time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c := failNTimes(1, tt.err)
				start := time.Now()
				_, err := Retry[int, int](c, MaxAttempts(2)).Execute(ctx, 1)
				assert.Equal(t, tt.wantSlept, time.Since(start))
				assert.Equal(t, tt.wantCalls, c.Calls())
				if tt.wantCalls == 2 {
					assert.NoError(t, err)
					return
				}
				var re *RetryError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, 1, re.Attempts)
				assert.Equal(t, tt.err, re.Last)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), "would pass the context deadline")
			})
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantDelay time.Duration
	}{
		{name: "RetryAfter sets the delay", err: retryAfterErr{3 * time.Second}, wantDelay: 3 * time.Second},
		{name: "RetryAfter beyond MaxInterval is honoured", err: retryAfterErr{time.Minute}, wantDelay: time.Minute},
		{name: "wrapped RetryAfter", err: fmt.Errorf("call: %w", retryAfterErr{2 * time.Second}), wantDelay: 2 * time.Second},
		{name: "RetryAfter 0 keeps the backoff", err: retryAfterErr{0}, wantDelay: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var events []RetryEvent
				var calledAt []time.Duration
				start := time.Now()
				c := &counter{fail: func(call int) error {
					calledAt = append(calledAt, time.Since(start))
					if call == 1 {
						return tt.err
					}
					return nil
				}}
				_, err := Retry[int, int](c, Jitter(0), recordDelays(&events)).Execute(context.Background(), 1)
				require.NoError(t, err)
				assert.Equal(t, []time.Duration{tt.wantDelay}, delaysOf(events))
				assert.Equal(t, []time.Duration{0, tt.wantDelay}, calledAt)
			})
		})
	}
}

func TestRetryPermanent(t *testing.T) {
	wrapped := fmt.Errorf("step: %w", Permanent(errBoom))
	tests := []struct {
		name      string
		fail      func(call int) error
		opts      []RetryOption
		wantCalls int
		wantErr   func(t *testing.T, err error)
	}{
		{
			name:      "Permanent stops at once",
			fail:      func(int) error { return Permanent(errBoom) },
			wantCalls: 1,
			wantErr: func(t *testing.T, err error) {
				assert.EqualError(t, err, "boom")
				assert.ErrorIs(t, err, errBoom)
			},
		},
		{
			name:      "wrapped Permanent is returned unchanged",
			fail:      func(int) error { return wrapped },
			wantCalls: 1,
			wantErr:   func(t *testing.T, err error) { assert.Same(t, wrapped, err) },
		},
		{
			name:      "RetryIf does not override Permanent",
			fail:      func(int) error { return Permanent(errBoom) },
			opts:      []RetryOption{RetryIf(func(error) bool { return true })},
			wantCalls: 1,
			wantErr:   func(t *testing.T, err error) { assert.ErrorIs(t, err, errBoom) },
		},
		{
			name: "Permanent after a transient failure",
			fail: func(call int) error {
				if call == 1 {
					return errors.New("flaky")
				}
				return Permanent(errBoom)
			},
			wantCalls: 2,
			wantErr:   func(t *testing.T, err error) { assert.ErrorIs(t, err, errBoom) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &counter{fail: tt.fail}
				_, err := Retry[int, int](c, tt.opts...).Execute(context.Background(), 1)
				assert.Equal(t, tt.wantCalls, c.Calls())
				var re *RetryError
				assert.False(t, errors.As(err, &re), "a permanent error is not a *RetryError")
				tt.wantErr(t, err)
			})
		})
	}
}

func TestRetryPermanentStopsEnclosingRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counter{fail: func(int) error { return Permanent(errBoom) }}
		_, err := Retry(Retry[int, int](c), MaxAttempts(5)).Execute(context.Background(), 1)
		assert.Equal(t, 1, c.Calls())
		assert.ErrorIs(t, err, errBoom)
	})
}

func TestPermanent(t *testing.T) {
	assert.NoError(t, Permanent(nil))
	p := Permanent(errBoom)
	assert.Same(t, p, Permanent(p), "marking twice changes nothing")
	assert.Same(t, errBoom, errors.Unwrap(p))
	assert.Equal(t, "boom", p.Error())
}

func TestRetryTransient(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCalls int
	}{
		{name: "Transient false is not retried", err: transientErr{transient: false}, wantCalls: 1},
		{name: "Transient true is retried", err: transientErr{transient: true}, wantCalls: 3},
		{name: "wrapped Transient false is not retried", err: fmt.Errorf("op: %w", transientErr{transient: false}), wantCalls: 1},
		{name: "outermost Transient decides", err: transientErr{transient: true, err: transientErr{transient: false}}, wantCalls: 3},
		{name: "no Transient method is retried", err: errBoom, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := failNTimes(100, tt.err)
				_, err := Retry[int, int](c).Execute(context.Background(), 1)
				assert.Equal(t, tt.wantCalls, c.Calls())
				if tt.wantCalls == 1 {
					assert.Equal(t, tt.err, err, "a non-retryable error is returned unchanged")
				} else {
					var re *RetryError
					require.ErrorAs(t, err, &re)
					assert.Equal(t, tt.err, re.Last)
				}
			})
		})
	}
}

func TestRetryIf(t *testing.T) {
	other := errors.New("other")
	onlyBoom := func(err error) bool { return errors.Is(err, errBoom) }
	tests := []struct {
		name      string
		err       error
		retryIf   func(error) bool
		wantCalls int
	}{
		{name: "RetryIf true overrides Transient false", err: transientErr{transient: false}, retryIf: func(error) bool { return true }, wantCalls: 3},
		{name: "RetryIf false overrides the default", err: other, retryIf: onlyBoom, wantCalls: 1},
		{name: "RetryIf true", err: fmt.Errorf("x: %w", errBoom), retryIf: onlyBoom, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen []error
				f := func(err error) bool { seen = append(seen, err); return tt.retryIf(err) }
				c := failNTimes(100, tt.err)
				_, err := Retry[int, int](c, RetryIf(f)).Execute(context.Background(), 1)
				assert.Equal(t, tt.wantCalls, c.Calls())
				require.NotEmpty(t, seen)
				assert.Equal(t, tt.err, seen[0], "RetryIf sees the attempt's error")
				if tt.wantCalls == 1 {
					assert.Equal(t, tt.err, err)
				}
			})
		})
	}
}

func TestRetryContextCancelledMidSleep(t *testing.T) {
	errCause := errors.New("user pressed stop")
	tests := []struct {
		name      string
		cancel    func(context.Context) (context.Context, func())
		wantIs    []error
		wantCause string
	}{
		{
			name: "cancel",
			cancel: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancel(ctx)
				return ctx, cancel
			},
			wantIs:    []error{context.Canceled},
			wantCause: "context canceled",
		},
		{
			name: "cancel with cause",
			cancel: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(ctx)
				return ctx, func() { cancel(errCause) }
			},
			wantIs:    []error{context.Canceled, errCause},
			wantCause: "user pressed stop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := tt.cancel(context.Background())
				defer cancel()
				time.AfterFunc(150*time.Millisecond, cancel)
				c := failNTimes(100, errBoom)
				start := time.Now()
				_, err := Retry[int, int](c, InitialInterval(10*time.Second), MaxInterval(time.Minute)).Execute(ctx, 1)
				assert.Equal(t, 150*time.Millisecond, time.Since(start), "returns as soon as ctx is done")
				assert.Equal(t, 1, c.Calls(), "no attempt after ctx is done")
				for _, target := range append(tt.wantIs, errBoom) {
					assert.ErrorIs(t, err, target)
				}
				assert.ErrorIs(t, err, ctx.Err())
				var re *RetryError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, 1, re.Attempts)
				assert.EqualError(t, err, "tta: retry: stopped after 1 attempt in 150ms ("+tt.wantCause+"): boom")
			})
		})
	}
}

// causeErr is a context cause with a type of its own, to check errors.As.
type causeErr struct{ why string }

func (e *causeErr) Error() string { return e.why }

func TestRetryErrorAsReachesContextCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := &causeErr{why: "shutdown"}
		p := Func[int, int](func(context.Context, int) (int, error) {
			cancel(cause)
			return 0, errBoom
		})
		_, err := Retry[int, int](p).Execute(ctx, 1)
		var got *causeErr
		require.ErrorAs(t, err, &got)
		assert.Same(t, cause, got)
		assert.ErrorIs(t, err, errBoom)
	})
}

func TestRetryNeverAttemptsAfterContextDone(t *testing.T) {
	t.Run("done before the first attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := succeeding()
		_, err := Retry[int, int](c).Execute(ctx, 1)
		assert.Equal(t, 0, c.Calls())
		var re *RetryError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 0, re.Attempts)
		assert.ErrorIs(t, err, context.Canceled)
		assert.EqualError(t, err, "tta: retry: not attempted: context canceled")
	})
	t.Run("cancelled during an attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls int
			p := Func[int, int](func(context.Context, int) (int, error) {
				calls++
				cancel()
				return 0, errBoom
			})
			_, err := Retry[int, int](p, RetryForever()).Execute(ctx, 1)
			assert.Equal(t, 1, calls)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, errBoom)
		})
	})
	t.Run("deadline reached during an attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var calls atomic.Int32
			p := Func[int, int](func(ctx context.Context, in int) (int, error) {
				calls.Add(1)
				return blockUntilDone(ctx, in)
			})
			start := time.Now()
			_, err := Retry[int, int](p, RetryForever()).Execute(ctx, 1)
			assert.Equal(t, 5*time.Second, time.Since(start))
			assert.Equal(t, int32(1), calls.Load())
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var re *RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 1, re.Attempts)
		})
	})
}

func TestRetryReturnsLastOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		p := Func[int, int](func(context.Context, int) (int, error) {
			calls++
			return calls * 10, errBoom
		})
		out, err := Retry[int, int](p).Execute(context.Background(), 1)
		require.Error(t, err)
		assert.Equal(t, 30, out, "the last attempt's partial result passes through")
	})
}

func TestRetryErrorMessage(t *testing.T) {
	tests := []struct {
		err  *RetryError
		want string
	}{
		{&RetryError{Attempts: 3, Elapsed: 1200 * time.Millisecond, Last: errBoom}, "tta: retry: gave up after 3 attempts in 1.2s: boom"},
		{&RetryError{Attempts: 1, Elapsed: 1234567891, Last: errBoom}, "tta: retry: gave up after 1 attempt in 1.235s: boom"},
		{&RetryError{Attempts: 2, Elapsed: 1500, Last: errBoom}, "tta: retry: gave up after 2 attempts in 2µs: boom"},
		{&RetryError{}, "tta: retry: gave up after 0 attempts in 0s: <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.EqualError(t, tt.err, tt.want)
			assert.Equal(t, tt.err.Last, tt.err.Unwrap())
			assert.NotErrorIs(t, tt.err, context.Canceled)
			assert.NotErrorIs(t, tt.err, context.DeadlineExceeded)
		})
	}
}

func TestRetryConstructionPanics(t *testing.T) {
	assertMisusePanics(t, []misuseCase{
		{"nil primitive", "tta: Retry: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)", func() { Retry[int, int](nil) }},
		{"nil Func", "tta: Retry: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)", func() { Retry(Func[int, int](nil)) }},
		{"nil option", "tta: Retry: the second option is nil; pass options made by MaxAttempts, InitialInterval, RetryIf and the like", func() { Retry[int, int](succeeding(), MaxAttempts(2), nil) }},
		{"MaxAttempts 0", "tta: Retry: MaxAttempts must be >= 1, got 0; use RetryForever() for no attempt limit", func() { MaxAttempts(0) }},
		{"MaxAttempts negative", "tta: Retry: MaxAttempts must be >= 1, got -2; use RetryForever() for no attempt limit", func() { MaxAttempts(-2) }},
		{"negative InitialInterval", "tta: Retry: InitialInterval must be >= 0, got -1s; use 0 to retry without waiting", func() { InitialInterval(-time.Second) }},
		{"negative MaxInterval", "tta: Retry: MaxInterval must be >= 0, got -1s", func() { MaxInterval(-time.Second) }},
		{"InitialInterval above MaxInterval", "tta: Retry: InitialInterval 20s exceeds MaxInterval 10s; raise MaxInterval or lower InitialInterval", func() { Retry[int, int](succeeding(), InitialInterval(20*time.Second)) }},
		{"Multiplier below 1", "tta: Retry: Multiplier must be a finite number >= 1, got 0.5; use 1 for a constant interval", func() { Multiplier(0.5) }},
		{"Multiplier NaN", "tta: Retry: Multiplier must be a finite number >= 1, got NaN; use 1 for a constant interval", func() { Multiplier(nan()) }},
		{"Multiplier +Inf", "tta: Retry: Multiplier must be a finite number >= 1, got +Inf; use 1 for a constant interval", func() { Multiplier(inf()) }},
		{"Jitter negative", "tta: Retry: Jitter must be between 0 and 1, got -0.1; use 0 for exact intervals", func() { Jitter(-0.1) }},
		{"Jitter above 1", "tta: Retry: Jitter must be between 0 and 1, got 1.5; use 0 for exact intervals", func() { Jitter(1.5) }},
		{"Jitter NaN", "tta: Retry: Jitter must be between 0 and 1, got NaN; use 0 for exact intervals", func() { Jitter(nan()) }},
		{"negative MaxElapsedTime", "tta: Retry: MaxElapsedTime must be >= 0, got -1ms; use 0 for no limit", func() { MaxElapsedTime(-time.Millisecond) }},
		{"nil RetryIf", "tta: Retry: RetryIf func is nil; omit the option to keep the default classification", func() { RetryIf(nil) }},
		{"nil OnRetry", "tta: Retry: OnRetry func is nil; omit the option to run without a hook", func() { OnRetry(nil) }},
	})
}

func nan() float64 { z := 0.0; return z / z }
func inf() float64 { z := 0.0; return 1 / z }

func TestRetryBoundaryOptionsAreAccepted(t *testing.T) {
	assert.NotPanics(t, func() {
		Retry[int, int](succeeding(), MaxAttempts(1), InitialInterval(0), MaxInterval(0),
			Multiplier(1), Jitter(0), Jitter(1), MaxElapsedTime(0))
	})
}

func TestRetryHappyPathAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		r    Primitive[int, int]
	}{
		{"defaults", Retry[int, int](succeeding())},
		{"every option", Retry[int, int](succeeding(), RetryForever(), InitialInterval(time.Second),
			MaxInterval(time.Minute), Multiplier(3), Jitter(0.2), MaxElapsedTime(time.Hour),
			RetryIf(func(error) bool { return true }), OnRetry(func(RetryEvent) {}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := tt.r.Execute(ctx, 1); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

func TestRetryConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every other call fails, whoever makes it: calls from concurrent
		// Executes interleave on the shared primitive.
		c := &counter{fail: func(call int) error {
			if call%2 == 1 {
				return errBoom
			}
			return nil
		}}
		var retries atomic.Int64
		r := Retry[int, int](c, RetryForever(), OnRetry(func(RetryEvent) { retries.Add(1) }))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		const workers, each = 8, 20
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					out, err := r.Execute(ctx, w*each+i)
					assert.NoError(t, err)
					assert.Equal(t, w*each+i+1, out)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(c.Calls()-workers*each), retries.Load(), "one retry per failed call")
	})
}

func BenchmarkRetrySuccess(b *testing.B) {
	r := Retry[int, int](succeeding())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.Execute(ctx, 1)
	}
}

func BenchmarkDirectCall(b *testing.B) {
	var p Primitive[int, int] = succeeding()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.Execute(ctx, 1)
	}
}

// With FinalAttemptBeforeDeadline, a wait of 0.5 s doubling to 5 s inside a
// 120 s deadline makes its last attempt 1 s before the deadline instead of
// giving up at 117.5 s, so something ready at 118 s is still seen.
func TestRetryFinalAttemptBeforeDeadline(t *testing.T) {
	for _, tc := range []struct {
		name      string
		readyAt   time.Duration // 0: never
		wantErr   bool
		wantLast  time.Duration // when the last attempt ran
		wantTries int
	}{
		{name: "ready after the regular schedule ends", readyAt: 118 * time.Second, wantLast: 119 * time.Second, wantTries: 28},
		{name: "never ready", wantErr: true, wantLast: 119 * time.Second, wantTries: 28},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var tries []time.Duration
				op := Func[int, int](func(ctx context.Context, in int) (int, error) {
					now := time.Since(start)
					tries = append(tries, now)
					if tc.readyAt > 0 && now >= tc.readyAt {
						return in, nil
					}
					return 0, errBoom
				})
				ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
				defer cancel()
				_, err := Retry(op, RetryForever(), InitialInterval(500*time.Millisecond), MaxInterval(5*time.Second),
					Jitter(0), FinalAttemptBeforeDeadline(time.Second)).Execute(ctx, 1)
				if tc.wantErr {
					require.ErrorIs(t, err, context.DeadlineExceeded)
					require.ErrorIs(t, err, errBoom)
				} else {
					require.NoError(t, err)
				}
				assert.Len(t, tries, tc.wantTries)
				assert.Equal(t, tc.wantLast, tries[len(tries)-1])
				assert.Equal(t, 117500*time.Millisecond, tries[len(tries)-2], "the regular schedule is unchanged")
			})
		})
	}
}

func TestRetryFinalAttemptBeforeDeadlineOnlyWhenAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := failNTimes(100, errBoom)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		// The first delay (1 s) passes the deadline and the final moment
		// (deadline - 500 ms) is already behind: give up after one attempt.
		_, err := Retry[int, int](c, RetryForever(), InitialInterval(time.Second), Jitter(0),
			FinalAttemptBeforeDeadline(500*time.Millisecond)).Execute(ctx, 1)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, c.Calls())
	})
}

func TestRetryFinalAttemptBeforeDeadlineRejectsNonPositiveMargin(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: Retry: FinalAttemptBeforeDeadline margin must be > 0, got 0s; it is the time the last attempt needs",
		func() { FinalAttemptBeforeDeadline(0) })
}
