package tta

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func identity(in int) int { return in }

// cacheStep is one call of a scripted cache test: first advance fake time by
// sleep, then call the cache with in.
type cacheStep struct {
	sleep    time.Duration
	in       int
	wantMiss bool // p must have been called
	wantErr  bool // the call must fail with errBoom
}

func TestCacheSemantics(t *testing.T) {
	// p fails for negative inputs and returns in+1 otherwise.
	for _, tc := range []struct {
		name  string
		key   func(int) int
		opts  []CacheOption
		steps []cacheStep
	}{
		{
			name: "same key hits, other keys miss",
			key:  identity,
			steps: []cacheStep{
				{in: 1, wantMiss: true},
				{in: 1},
				{in: 2, wantMiss: true},
				{in: 1},
				{in: 2},
			},
		},
		{
			name: "the key function decides what is the same",
			key:  func(in int) int { return in % 10 },
			steps: []cacheStep{
				{in: 3, wantMiss: true},
				{in: 13}, // returns the result stored for 3
			},
		},
		{
			name: "without TTL entries never expire",
			key:  identity,
			steps: []cacheStep{
				{in: 1, wantMiss: true},
				{sleep: 24 * 365 * time.Hour, in: 1},
			},
		},
		{
			name: "TTL: fresh until it passes, then called again",
			key:  identity,
			opts: []CacheOption{TTL(time.Minute)},
			steps: []cacheStep{
				{in: 1, wantMiss: true},
				{sleep: 59 * time.Second, in: 1},
				{sleep: time.Second, in: 1, wantMiss: true},
				{in: 1},
				{sleep: 30 * time.Second, in: 1},
			},
		},
		{
			name: "errors are not cached by default",
			key:  identity,
			steps: []cacheStep{
				{in: -1, wantMiss: true, wantErr: true},
				{in: -1, wantMiss: true, wantErr: true},
			},
		},
		{
			name: "CacheErrors caches errors, for the TTL",
			key:  identity,
			opts: []CacheOption{CacheErrors(), TTL(time.Minute)},
			steps: []cacheStep{
				{in: -1, wantMiss: true, wantErr: true},
				{in: -1, wantErr: true},
				{sleep: time.Minute, in: -1, wantMiss: true, wantErr: true},
			},
		},
		{
			name: "LRU: the least recently used entry is evicted, a hit counts as a use",
			key:  identity,
			opts: []CacheOption{MaxEntries(2)},
			steps: []cacheStep{
				{in: 1, wantMiss: true},
				{in: 2, wantMiss: true},
				{in: 1},                 // 1 is now more recent than 2
				{in: 3, wantMiss: true}, // evicts 2
				{in: 1},
				{in: 3},
				{in: 2, wantMiss: true}, // evicts 1
				{in: 3},
				{in: 1, wantMiss: true}, // evicts 2
			},
		},
		{
			name: "MaxEntries(1) keeps only the last result",
			key:  identity,
			opts: []CacheOption{MaxEntries(1)},
			steps: []cacheStep{
				{in: 1, wantMiss: true},
				{in: 1},
				{in: 2, wantMiss: true},
				{in: 1, wantMiss: true},
				{in: 2, wantMiss: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &counter{}
				var lastIn int
				f := Func[int, int](func(ctx context.Context, in int) (int, error) {
					lastIn = in
					if in < 0 {
						_, _ = p.Execute(ctx, in)
						return 0, fmt.Errorf("input %d: %w", in, errBoom)
					}
					return p.Execute(ctx, in)
				})
				c := Cache(f, tc.key, tc.opts...)
				for i, s := range tc.steps {
					time.Sleep(s.sleep)
					before := p.Calls()
					lastIn = 0
					out, err := c.Execute(t.Context(), s.in)
					assert.Equal(t, s.wantMiss, p.Calls() > before, "step %d: miss", i)
					if s.wantErr {
						require.ErrorIs(t, err, errBoom, "step %d", i)
						continue
					}
					require.NoError(t, err, "step %d", i)
					if s.wantMiss {
						assert.Equal(t, s.in, lastIn, "step %d", i)
						assert.Equal(t, s.in+1, out, "step %d", i)
					}
				}
			})
		})
	}
}

func TestCacheHitReturnsTheStoredResult(t *testing.T) {
	c := Cache[int, int](succeeding(), func(in int) int { return in % 10 })
	out, err := c.Execute(t.Context(), 3)
	require.NoError(t, err)
	require.Equal(t, 4, out)
	out, err = c.Execute(t.Context(), 13)
	require.NoError(t, err)
	assert.Equal(t, 4, out, "a hit returns the result stored for the key, not a fresh one")
}

func TestCacheConcurrentMissesShareOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callers = 10
		gate := make(chan struct{})
		p := &counter{}
		c := Cache(gated(gate, p), identity)

		results := make([]int, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				out, err := c.Execute(t.Context(), 7)
				assert.NoError(t, err)
				results[i] = out
			})
		}
		synctest.Wait() // one caller is in p, the others wait for it
		close(gate)
		wg.Wait()

		assert.Equal(t, 1, p.Calls())
		for i, r := range results {
			assert.Equal(t, 8, r, "caller %d", i)
		}
	})
}

func TestCacheWaitersShareAnErrorThatIsNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		p := failNTimes(1, errBoom)
		c := Cache(gated(gate, p), identity)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				_, err := c.Execute(t.Context(), 1)
				assert.ErrorIs(t, err, errBoom)
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		require.Equal(t, 1, p.Calls())

		out, err := c.Execute(t.Context(), 1)
		require.NoError(t, err, "the error must not have been stored")
		assert.Equal(t, 2, out)
		assert.Equal(t, 2, p.Calls())
	})
}

func TestCacheCancelledWaiterLeavesTheSharedCallRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		p := &counter{}
		c := Cache(gated(gate, p), identity)

		var wg sync.WaitGroup
		wg.Go(func() {
			out, err := c.Execute(t.Context(), 1)
			assert.NoError(t, err)
			assert.Equal(t, 2, out)
		})
		synctest.Wait() // the owner is in p

		ctx, cancel := context.WithCancelCause(t.Context())
		waiterDone := make(chan error)
		go func() {
			_, err := c.Execute(ctx, 1)
			waiterDone <- err
		}()
		synctest.Wait()
		cancel(errNotFound)
		err := <-waiterDone
		require.ErrorIs(t, err, errNotFound, "the waiter returns its own context's cause")

		close(gate)
		wg.Wait()
		out, err := c.Execute(t.Context(), 1)
		require.NoError(t, err)
		assert.Equal(t, 2, out)
		assert.Equal(t, 1, p.Calls(), "the owner's result was stored")
	})
}

func TestCacheWaitersStartOverWhenTheOwnerIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &counter{}
		f := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if _, ok := ctx.Value(ownerKey{}).(bool); ok {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return p.Execute(ctx, in)
		})
		c := Cache(f, identity)

		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ownerKey{}, true))
		ownerDone := make(chan error)
		go func() {
			_, err := c.Execute(ctx, 1)
			ownerDone <- err
		}()
		synctest.Wait() // the owner is in p

		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				out, err := c.Execute(t.Context(), 1)
				assert.NoError(t, err)
				assert.Equal(t, 2, out)
			})
		}
		synctest.Wait() // the waiters wait for the owner
		cancel()
		require.ErrorIs(t, <-ownerDone, context.Canceled)
		wg.Wait()
		assert.Equal(t, 1, p.Calls(), "one waiter became the new owner and the others shared its call")
	})
}

type ownerKey struct{}

func TestCacheNeverStoresAnErrorFromACancelledCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p := succeeding()
	c := Cache[int, int](Func[int, int](func(ctx context.Context, in int) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return p.Execute(ctx, in)
	}), identity, CacheErrors())
	_, err := c.Execute(ctx, 1)
	require.ErrorIs(t, err, context.Canceled)
	out, err := c.Execute(t.Context(), 1)
	require.NoError(t, err, "the cancelled caller's error must not be stored")
	assert.Equal(t, 2, out)
}

func TestCachePanicInPWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		p := &counter{}
		f := Func[int, int](func(ctx context.Context, in int) (int, error) {
			if p.Calls() == 0 && in == 1 {
				<-gate
				_, _ = p.Execute(ctx, in)
				panic("kaboom")
			}
			return p.Execute(ctx, in)
		})
		c := Cache(f, identity)
		ownerDone := make(chan any)
		go func() {
			defer func() { ownerDone <- recover() }()
			_, _ = c.Execute(t.Context(), 1)
		}()
		synctest.Wait()
		waiterDone := make(chan int)
		go func() {
			out, err := c.Execute(t.Context(), 1)
			assert.NoError(t, err)
			waiterDone <- out
		}()
		synctest.Wait()
		close(gate)
		assert.Equal(t, "kaboom", <-ownerDone)
		assert.Equal(t, 2, <-waiterDone, "the waiter started over and called p itself")
		assert.Equal(t, 2, p.Calls())
	})
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []CacheOption
	}{
		{"no TTL", nil},
		{"with TTL", []CacheOption{TTL(time.Hour)}},
		{"cached error", []CacheOption{CacheErrors()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Primitive[int, int] = succeeding()
			if tc.name == "cached error" {
				p = failNTimes(1, errBoom)
			}
			c := Cache(p, identity, tc.opts...)
			_, _ = c.Execute(t.Context(), 1) // the miss that fills the entry
			assertNoAllocs(t, c)
		})
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keys       int
		maxEntries int
		wantCalls  func(t *testing.T, calls int)
	}{
		{"every key fits: one call per key", 8, 12, func(t *testing.T, calls int) { assert.Equal(t, 8, calls) }},
		{"constant eviction", 16, 4, func(t *testing.T, calls int) { assert.GreaterOrEqual(t, calls, 16) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := succeeding()
			c := Cache[int, int](p, identity, MaxEntries(tc.maxEntries))
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 300 {
						in := (g + i) % tc.keys
						out, err := c.Execute(t.Context(), in)
						assert.NoError(t, err)
						assert.Equal(t, in+1, out)
					}
				})
			}
			wg.Wait()
			tc.wantCalls(t, p.Calls())
		})
	}
}

func TestCacheConstructionPanics(t *testing.T) {
	var nilFunc Func[int, int]
	assertMisusePanics(t, []misuseCase{
		{"nil primitive", "tta: Cache: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { Cache[int, int](nil, identity) }},
		{"typed nil Func", "tta: Cache: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { Cache(nilFunc, identity) }},
		{"nil key", "tta: Cache: key function is nil; pass a func(In) K that maps an input to its cache key",
			func() { Cache[int, int, int](succeeding(), nil) }},
		{"nil option", "tta: Cache: first option is nil; pass options such as tta.TTL(time.Minute)",
			func() { Cache[int, int](succeeding(), identity, nil) }},
		{"TTL 0", "tta: Cache: TTL must be > 0, got 0s; drop the option for entries that never expire",
			func() { TTL(0) }},
		{"TTL negative", "tta: Cache: TTL must be > 0, got -1m0s; drop the option for entries that never expire",
			func() { TTL(-time.Minute) }},
		{"MaxEntries 0", "tta: Cache: MaxEntries must be >= 1, got 0; pass the most results to keep, such as 1024",
			func() { MaxEntries(0) }},
	})
}

func BenchmarkCacheHit(b *testing.B) {
	c := Cache[int, int](succeeding(), identity, TTL(time.Hour))
	ctx := b.Context()
	_, _ = c.Execute(ctx, 1)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Execute(ctx, 1)
	}
}
