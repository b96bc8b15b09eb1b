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

// highWater is a Primitive[int, int] that takes a second of (fake) time per
// call and records the most calls it ever ran at once.
type highWater struct {
	mu      sync.Mutex // protects running and max
	running int
	max     int
	calls   atomic.Int32
}

func (h *highWater) Execute(ctx context.Context, in int) (int, error) {
	h.calls.Add(1)
	h.mu.Lock()
	h.running++
	h.max = max(h.max, h.running)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running--
		h.mu.Unlock()
	}()
	select {
	case <-time.After(time.Second):
		return in + 1, nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

func (h *highWater) Max() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

func TestBulkheadLimitsConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limit       int
		callers     int
		opts        []BulkheadOption
		wantMax     int
		wantOK      int
		wantElapsed time.Duration
	}{
		{"default: everyone waits their turn", 3, 10, nil, 3, 10, 4 * time.Second},
		{"limit 1 serialises", 1, 4, nil, 1, 4, 4 * time.Second},
		{"fewer callers than slots", 5, 3, nil, 3, 3, time.Second},
		{"queue size bounds the waiters", 2, 10, []BulkheadOption{QueueSize(3)}, 2, 5, 3 * time.Second},
		{"queue size 0 rejects when full", 2, 10, []BulkheadOption{QueueSize(0)}, 2, 2, time.Second},
		{"wait timeout gives up", 2, 10, []BulkheadOption{WaitTimeout(1500 * time.Millisecond)}, 2, 4, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &highWater{}
				b := Bulkhead[int, int](h, tc.limit, tc.opts...)
				start := time.Now()
				var ok, full atomic.Int32
				var wg sync.WaitGroup
				for i := range tc.callers {
					wg.Go(func() {
						out, err := b.Execute(t.Context(), i)
						if err != nil {
							assert.ErrorIs(t, err, ErrBulkheadFull)
							full.Add(1)
							return
						}
						assert.Equal(t, i+1, out)
						ok.Add(1)
					})
				}
				wg.Wait()
				assert.Equal(t, tc.wantMax, h.Max(), "most calls at once")
				assert.Equal(t, int32(tc.wantOK), ok.Load(), "successful calls")
				assert.Equal(t, int32(tc.wantOK), h.calls.Load(), "a rejected call must not reach p")
				assert.Equal(t, int32(tc.callers-tc.wantOK), full.Load(), "rejected calls")
				assert.Equal(t, tc.wantElapsed, time.Since(start))
			})
		})
	}
}

// blockedBulkhead returns a Bulkhead of the given limit whose slots are all
// taken by calls blocked until release is called. release may be called more
// than once.
func blockedBulkhead(t *testing.T, limit int, opts ...BulkheadOption) (b Primitive[int, int], release func()) {
	gate := make(chan struct{})
	p := Func[int, int](func(ctx context.Context, in int) (int, error) {
		if in < 0 {
			<-gate
		}
		return in + 1, nil
	})
	b = Bulkhead(p, limit, opts...)
	var wg sync.WaitGroup
	for range limit {
		wg.Go(func() {
			_, err := b.Execute(t.Context(), -1)
			assert.NoError(t, err)
		})
	}
	synctest.Wait()
	var once sync.Once
	return b, func() {
		once.Do(func() { close(gate) })
		wg.Wait()
	}
}

func TestBulkheadRejectionMessages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int
		opts    []BulkheadOption
		waiters int // callers already waiting when the call is made
		want    string
	}{
		{"queue size 0", 2, []BulkheadOption{QueueSize(0)}, 0,
			"tta: bulkhead full: limit 2 reached and waiting not allowed (queue size 0)"},
		{"queue full", 1, []BulkheadOption{QueueSize(2)}, 2,
			"tta: bulkhead full: limit 1 reached and queue full (queue size 2)"},
		{"wait timeout, unbounded queue", 1, []BulkheadOption{WaitTimeout(time.Second)}, 0,
			"tta: bulkhead full: no slot freed within 1s (limit 1, queue size unbounded)"},
		{"wait timeout, bounded queue", 3, []BulkheadOption{WaitTimeout(250 * time.Millisecond), QueueSize(5)}, 0,
			"tta: bulkhead full: no slot freed within 250ms (limit 3, queue size 5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, release := blockedBulkhead(t, tc.limit, tc.opts...)
				ctx, cancel := context.WithCancel(t.Context())
				var waiters sync.WaitGroup
				for range tc.waiters {
					waiters.Go(func() {
						_, err := b.Execute(ctx, 1)
						assert.ErrorIs(t, err, context.Canceled)
					})
				}
				synctest.Wait()

				out, err := b.Execute(t.Context(), 1)
				require.ErrorIs(t, err, ErrBulkheadFull)
				assert.EqualError(t, err, tc.want)
				assert.Zero(t, out)

				cancel()
				waiters.Wait()
				release()
			})
		})
	}
}

func TestBulkheadWaitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, release := blockedBulkhead(t, 1, WaitTimeout(10*time.Second))
		defer release()
		start := time.Now()
		_, err := b.Execute(t.Context(), 1)
		require.ErrorIs(t, err, ErrBulkheadFull)
		assert.Equal(t, 10*time.Second, time.Since(start))
	})
}

func TestBulkheadWaiterGetsTheFreedSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, release := blockedBulkhead(t, 1, WaitTimeout(time.Minute), QueueSize(1))
		done := make(chan int)
		go func() {
			out, err := b.Execute(t.Context(), 41)
			assert.NoError(t, err)
			done <- out
		}()
		synctest.Wait()
		time.Sleep(30 * time.Second)
		release()
		assert.Equal(t, 42, <-done)
	})
}

func TestBulkheadWaitersAreServedInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex // protects order
		var order []int
		p := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if in < 0 {
				<-gate
				return in, nil
			}
			mu.Lock()
			order = append(order, in)
			mu.Unlock()
			return in, nil
		})
		b := Bulkhead(p, 1)
		var wg sync.WaitGroup
		for i := -1; i < 5; i++ {
			wg.Go(func() {
				_, err := b.Execute(t.Context(), i)
				assert.NoError(t, err)
			})
			synctest.Wait() // i holds the slot or is queued before i+1 arrives
		}
		close(gate)
		wg.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4}, order)
	})
}

func TestBulkheadCallerContextWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    func(t *testing.T) (context.Context, context.CancelFunc)
		cancel bool // cancel the context once the caller waits
		want   error
	}{
		{"cancelled", func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithCancel(t.Context())
		}, true, context.Canceled},
		{"deadline", func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), time.Second)
		}, false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, release := blockedBulkhead(t, 1, WaitTimeout(time.Hour))
				defer release()
				ctx, cancel := tc.ctx(t)
				defer cancel()
				done := make(chan error)
				go func() {
					_, err := b.Execute(ctx, 1)
					done <- err
				}()
				synctest.Wait()
				if tc.cancel {
					cancel()
				}
				err := <-done
				require.ErrorIs(t, err, tc.want)
				assert.False(t, errors.Is(err, ErrBulkheadFull), "the caller gave up: not a rejection")
			})
		})
	}
}

func TestBulkheadCancelledWaiterLeavesTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, release := blockedBulkhead(t, 1, QueueSize(1))
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := b.Execute(ctx, 1)
			done <- err
		}()
		synctest.Wait()
		_, err := b.Execute(t.Context(), 1)
		require.ErrorIs(t, err, ErrBulkheadFull, "the one queue place is taken")
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)

		waiting := make(chan error)
		go func() {
			_, err := b.Execute(t.Context(), 1)
			waiting <- err
		}()
		synctest.Wait()
		select {
		case err := <-waiting:
			t.Fatalf("the queue place should be free again, got %v", err)
		default:
		}
		release()
		require.NoError(t, <-waiting)
	})
}

func TestBulkheadPanicFreesTheSlot(t *testing.T) {
	p := Func[int, int](func(ctx context.Context, in int) (int, error) {
		if in < 0 {
			panic("kaboom")
		}
		return in, nil
	})
	b := Bulkhead(p, 1, QueueSize(0))
	require.PanicsWithValue(t, "kaboom", func() { _, _ = b.Execute(t.Context(), -1) })
	out, err := b.Execute(t.Context(), 7)
	require.NoError(t, err)
	assert.Equal(t, 7, out)
}

func TestBulkheadFreeSlotDoesNotAllocate(t *testing.T) {
	assertNoAllocs(t, Bulkhead[int, int](succeeding(), 1))
}

func TestBulkheadConstructionPanics(t *testing.T) {
	var nilFunc Func[int, int]
	assertMisusePanics(t, []misuseCase{
		{"nil primitive", "tta: Bulkhead: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { Bulkhead[int, int](nil, 1) }},
		{"typed nil Func", "tta: Bulkhead: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { Bulkhead(nilFunc, 1) }},
		{"limit 0", "tta: Bulkhead: limit must be >= 1, got 0; pass the most calls that may run at once",
			func() { Bulkhead[int, int](succeeding(), 0) }},
		{"limit negative", "tta: Bulkhead: limit must be >= 1, got -2; pass the most calls that may run at once",
			func() { Bulkhead[int, int](succeeding(), -2) }},
		{"nil option", "tta: Bulkhead: second option is nil; pass options such as tta.QueueSize(10)",
			func() { Bulkhead[int, int](succeeding(), 1, QueueSize(1), nil) }},
		{"QueueSize negative", "tta: Bulkhead: QueueSize must be >= 0, got -1; use 0 to reject calls at once when every slot is busy",
			func() { QueueSize(-1) }},
		{"WaitTimeout 0", "tta: Bulkhead: WaitTimeout must be > 0, got 0s; drop the option to wait as long as the caller's context allows",
			func() { WaitTimeout(0) }},
		{"WaitTimeout negative", "tta: Bulkhead: WaitTimeout must be > 0, got -1ms; drop the option to wait as long as the caller's context allows",
			func() { WaitTimeout(-time.Millisecond) }},
	})
}
