package tta

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sleepIgnoringCtx is a Primitive that ignores its context: it sleeps for d and
// then returns err, or in+1 when err is nil.
func sleepIgnoringCtx(d time.Duration, err error) Primitive[int, int] {
	return Func[int, int](func(_ context.Context, in int) (int, error) {
		time.Sleep(d)
		if err != nil {
			return 0, err
		}
		return in + 1, nil
	})
}

func TestTimeoutExpiry(t *testing.T) {
	tests := []struct {
		name        string
		p           Primitive[int, int]
		wantMsg     string
		wantElapsed time.Duration
		wantIs      []error
	}{
		{
			name:        "p returns the context's cause",
			p:           blockUntilDone,
			wantMsg:     "tta: timeout after 2s",
			wantElapsed: 2 * time.Second,
		},
		{
			name: "p returns ctx.Err()",
			p: Func[int, int](func(ctx context.Context, _ int) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			}),
			wantMsg:     "tta: timeout after 2s",
			wantElapsed: 2 * time.Second,
		},
		{
			name: "p wraps ctx.Err()",
			p: Func[int, int](func(ctx context.Context, _ int) (int, error) {
				<-ctx.Done()
				return 0, fmt.Errorf("fetch: %w", ctx.Err())
			}),
			wantMsg:     "tta: timeout after 2s: fetch: context deadline exceeded",
			wantElapsed: 2 * time.Second,
		},
		{
			name: "p wraps the cause",
			p: Func[int, int](func(ctx context.Context, _ int) (int, error) {
				<-ctx.Done()
				return 0, fmt.Errorf("fetch: %w", context.Cause(ctx))
			}),
			wantMsg:     "fetch: tta: timeout after 2s",
			wantElapsed: 2 * time.Second,
		},
		{
			name:        "p ignores ctx and fails late",
			p:           sleepIgnoringCtx(3*time.Second, errBoom),
			wantMsg:     "tta: timeout after 2s: boom",
			wantElapsed: 3 * time.Second,
			wantIs:      []error{errBoom},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				_, err := Timeout(tt.p, 2*time.Second).Execute(context.Background(), 1)
				assert.Equal(t, tt.wantElapsed, time.Since(start))
				assert.EqualError(t, err, tt.wantMsg)
				assert.ErrorIs(t, err, ErrTimeout)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
			})
		})
	}
}

func TestTimeoutCallerContextEndsFirst(t *testing.T) {
	errCause := errors.New("user pressed stop")
	tests := []struct {
		name   string
		ctx    func() (context.Context, func())
		wantIs []error
	}{
		{
			name: "caller cancels",
			ctx: func() (context.Context, func()) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(time.Second, cancel)
				return ctx, cancel
			},
			wantIs: []error{context.Canceled},
		},
		{
			name: "caller cancels with a cause",
			ctx: func() (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(context.Background())
				time.AfterFunc(time.Second, func() { cancel(errCause) })
				return ctx, func() { cancel(nil) }
			},
			wantIs: []error{errCause},
		},
		{
			name: "caller's shorter deadline",
			ctx: func() (context.Context, func()) {
				return context.WithTimeout(context.Background(), time.Second)
			},
			wantIs: []error{context.DeadlineExceeded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := tt.ctx()
				defer cancel()
				start := time.Now()
				_, err := Timeout(blockUntilDone, 2*time.Second).Execute(ctx, 1)
				assert.Equal(t, time.Second, time.Since(start))
				assert.NotErrorIs(t, err, ErrTimeout, "the caller's own ending is not a timeout")
				assert.Equal(t, context.Cause(ctx), err, "p's error is returned unchanged")
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
			})
		})
	}
}

func TestTimeoutSuccess(t *testing.T) {
	tests := []struct {
		name string
		p    Primitive[int, int]
	}{
		{"p succeeds at once", succeeding()},
		{"p succeeds just in time", sleepIgnoringCtx(2*time.Second-time.Nanosecond, nil)},
		{"p ignores ctx and succeeds after the deadline", sleepIgnoringCtx(5*time.Second, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				out, err := Timeout(tt.p, 2*time.Second).Execute(context.Background(), 41)
				require.NoError(t, err)
				assert.Equal(t, 42, out)
			})
		})
	}
}

func TestTimeoutPassesOtherErrorsThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Func[int, int](func(context.Context, int) (int, error) {
			time.Sleep(time.Second)
			return 7, errBoom
		})
		out, err := Timeout(p, 2*time.Second).Execute(context.Background(), 1)
		assert.Same(t, errBoom, err)
		assert.Equal(t, 7, out, "Out is what p returned")
		assert.NotErrorIs(t, err, ErrTimeout)
	})
}

func TestTimeoutDerivedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inner context.Context
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			inner = ctx
			dl, ok := ctx.Deadline()
			assert.True(t, ok)
			assert.Equal(t, 3*time.Second, time.Until(dl))
			return in, nil
		})
		_, err := Timeout(p, 3*time.Second).Execute(context.Background(), 1)
		require.NoError(t, err)
		require.NotNil(t, inner)
		assert.ErrorIs(t, inner.Err(), context.Canceled, "the derived context is cancelled on return")
	})
}

func TestTimeoutRunsInCallersGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inner context.Context
		before := runtime.NumGoroutine()
		var during int
		p := Func[int, int](func(ctx context.Context, _ int) (int, error) {
			inner = ctx
			during = runtime.NumGoroutine()
			panic("p panicked")
		})
		// A panic in p reaches the caller's recover only if p ran in the
		// caller's goroutine.
		assert.PanicsWithValue(t, "p panicked", func() {
			_, _ = Timeout(p, time.Second).Execute(context.Background(), 1)
		})
		assert.Equal(t, before, during, "no goroutine started")
		require.NotNil(t, inner)
		assert.ErrorIs(t, inner.Err(), context.Canceled, "the derived context is cancelled even when p panics")
	})
}

func TestTimeoutComposition(t *testing.T) {
	t.Run("Timeout(Retry) bounds all attempts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := failNTimes(1<<30, errBoom)
			start := time.Now()
			_, err := Timeout(Retry[int, int](c, RetryForever(), Jitter(0)), time.Second).Execute(context.Background(), 1)
			// Attempts at 0, 100ms, 300ms and 700ms; the next delay (800ms)
			// would pass the deadline, so Retry stops at once: a timeout all the same.
			assert.Equal(t, 700*time.Millisecond, time.Since(start))
			assert.Equal(t, 4, c.Calls())
			assert.ErrorIs(t, err, ErrTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorIs(t, err, errBoom)
			var re *RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 4, re.Attempts)
			assert.EqualError(t, err, "tta: timeout after 1s: tta: retry: gave up after 4 attempts in 700ms "+
				"(next delay 800ms would pass the context deadline, 300ms away): boom")
		})
	})
	t.Run("Timeout(Retry) under a shorter caller deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := Timeout(Retry[int, int](failNTimes(1<<30, errBoom), RetryForever(), Jitter(0)), time.Second).Execute(ctx, 1)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.NotErrorIs(t, err, ErrTimeout, "the caller's deadline, not the Timeout's, left no room")
		})
	})
	t.Run("Timeout around a retry of your own that gives up early", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var own Primitive[int, int] = Func[int, int](func(ctx context.Context, in int) (int, error) {
				dl, _ := ctx.Deadline()
				return 0, &gaveUpEarly{deadline: dl}
			})
			_, err := Timeout(own, time.Second).Execute(context.Background(), 1)
			assert.ErrorIs(t, err, ErrTimeout, "the Timeout's own deadline left no room")
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var g *gaveUpEarly
			require.ErrorAs(t, err, &g)
			assert.EqualError(t, err, "tta: timeout after 1s: gave up early")

			other := Func[int, int](func(ctx context.Context, in int) (int, error) {
				return 0, &gaveUpEarly{deadline: time.Now().Add(time.Hour)}
			})
			_, err = Timeout(other, time.Second).Execute(context.Background(), 1)
			assert.NotErrorIs(t, err, ErrTimeout, "another deadline than the Timeout's")
			_, err = Timeout(Func[int, int](func(ctx context.Context, in int) (int, error) {
				return 0, &gaveUpEarly{}
			}), time.Second).Execute(context.Background(), 1)
			assert.NotErrorIs(t, err, ErrTimeout, "not given up for a deadline")
		})
	})
	t.Run("Timeout(Retry) expiring during an attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			_, err := Timeout(Retry(blockUntilDone), time.Second).Execute(context.Background(), 1)
			assert.Equal(t, time.Second, time.Since(start))
			assert.ErrorIs(t, err, ErrTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var re *RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 1, re.Attempts)
		})
	})
	t.Run("Retry(Timeout) bounds each attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls int
			p := Func[int, int](func(ctx context.Context, in int) (int, error) {
				calls++
				return blockUntilDone(ctx, in)
			})
			start := time.Now()
			_, err := Retry(Timeout(p, time.Second), Jitter(0)).Execute(context.Background(), 1)
			assert.Equal(t, 3300*time.Millisecond, time.Since(start), "3 attempts of 1s, sleeps of 100ms and 200ms")
			assert.Equal(t, 3, calls)
			var re *RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 3, re.Attempts)
			assert.ErrorIs(t, re.Last, ErrTimeout)
		})
	})
}

func TestTimeoutConstructionPanics(t *testing.T) {
	assertMisusePanics(t, []misuseCase{
		{"nil primitive", "tta: Timeout: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)", func() { Timeout[int, int](nil, time.Second) }},
		{"nil Func", "tta: Timeout: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)", func() { Timeout(Func[int, int](nil), time.Second) }},
		{"zero duration", "tta: Timeout: duration must be > 0, got 0s; to run without a time limit, leave the primitive unwrapped", func() { Timeout[int, int](succeeding(), 0) }},
		{"negative duration", "tta: Timeout: duration must be > 0, got -1s; to run without a time limit, leave the primitive unwrapped", func() { Timeout[int, int](succeeding(), -time.Second) }},
	})
}

func TestTimeoutConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := Timeout(Func[int, int](func(ctx context.Context, in int) (int, error) {
			if in%2 == 0 {
				return blockUntilDone(ctx, in)
			}
			return in, nil
		}), time.Second)
		errs := make([]error, 16)
		done := make(chan struct{})
		for i := range errs {
			go func() {
				defer func() { done <- struct{}{} }()
				_, errs[i] = tm.Execute(context.Background(), i)
			}()
		}
		for range errs {
			<-done
		}
		for i, err := range errs {
			if i%2 == 0 {
				assert.ErrorIs(t, err, ErrTimeout, "call %d", i)
			} else {
				assert.NoError(t, err, "call %d", i)
			}
		}
	})
}

func TestTimeoutHappyPathAllocations(t *testing.T) {
	ctx := context.Background()
	p := succeeding()
	tm := Timeout[int, int](p, time.Minute)
	plain := testing.AllocsPerRun(200, func() {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		_, _ = p.Execute(c, 1)
		cancel()
	})
	got := testing.AllocsPerRun(200, func() {
		if _, err := tm.Execute(ctx, 1); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, got, plain, "no allocation beyond the context's own")
}

func BenchmarkTimeout(b *testing.B) {
	tm := Timeout[int, int](succeeding(), time.Minute)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = tm.Execute(ctx, 1)
	}
}

func BenchmarkContextWithTimeout(b *testing.B) {
	p := succeeding()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		_, _ = p.Execute(c, 1)
		cancel()
	}
}

// gaveUpEarly is the error of a retry of one's own that stopped because its
// next delay would pass deadline; a zero deadline means it stopped for
// another reason.
type gaveUpEarly struct{ deadline time.Time }

func (e *gaveUpEarly) Error() string { return "gave up early" }
func (e *gaveUpEarly) EarlyTimeout() (time.Time, bool) {
	return e.deadline, !e.deadline.IsZero()
}
