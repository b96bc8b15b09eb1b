package tta

import (
	"context"
	"sync"
	"time"
)

// CacheOption configures Cache. Each option panics at once on an invalid value;
// a later option overrides an earlier one of the same kind.
type CacheOption func(*cacheConfig)

type cacheConfig struct {
	ttl         time.Duration // 0: entries do not expire
	maxEntries  int
	cacheErrors bool
}

// TTL sets how long a result stays fresh, counted from when the call that
// produced it returned. An expired entry is never returned; the next call for
// its key calls p again. By default entries do not expire and leave the cache
// only when MaxEntries evicts them. It panics if d <= 0.
func TTL(d time.Duration) CacheOption {
	if d <= 0 {
		misuse("Cache", "TTL must be > 0, got %v; drop the option for entries that never expire", d)
	}
	return func(c *cacheConfig) { c.ttl = d }
}

// MaxEntries bounds the number of cached results (expired ones included until
// they are looked up or evicted). Storing a new result in a full cache evicts
// the least recently used one, where a hit counts as a use. The default is
// 1024. It panics if n < 1.
func MaxEntries(n int) CacheOption {
	if n < 1 {
		misuse("Cache", "MaxEntries must be >= 1, got %d; pass the most results to keep, such as 1024", n)
	}
	return func(c *cacheConfig) { c.maxEntries = n }
}

// CacheErrors makes Cache store failed results too, for the same TTL, so that a
// key that fails is not called again until its entry expires or is evicted. By
// default only successes are stored. Even with CacheErrors, an error returned
// after the caller's context was done is never stored.
func CacheErrors() CacheOption {
	return func(c *cacheConfig) { c.cacheErrors = true }
}

// Cache returns a Primitive that remembers p's results by key(in): a call whose
// key has a fresh stored result returns it without calling p. Only successes
// are stored, unless CacheErrors is given. Entries do not expire unless TTL is
// given, and at most MaxEntries (default 1024) are kept, least recently used
// evicted first. Keys are compared with ==; key must be cheap and must not
// depend on anything but its input.
//
// Concurrent calls that miss on the same key share one call of p: the first
// caller (the owner) calls p with its own ctx and input, and the others wait
// for its result, which they all receive, error included, even when the error
// is not stored. A waiter whose ctx is done stops waiting and returns
// context.Cause(ctx); the owner's call goes on. If the owner's ctx is done when
// p fails, or p panics, the owner returns (or panics) alone and the waiters
// start over: one of them becomes the new owner. Hence p sees the context
// values of the owner only.
//
// A hit takes one uncontended mutex and does not allocate (key itself aside),
// well under 100 ns; with a TTL it also reads the clock, time.Now, so expiry
// runs in fake time under testing/synctest. Cache panics if p or key is nil or
// an option is nil. The returned Primitive is safe for concurrent use.
func Cache[In, Out any, K comparable](p Primitive[In, Out], key func(In) K, opts ...CacheOption) Primitive[In, Out] {
	mustNotBeNil("Cache", "primitive", p)
	if key == nil {
		misuse("Cache", "key function is nil; pass a func(In) K that maps an input to its cache key")
	}
	cfg := cacheConfig{maxEntries: 1024}
	for i, o := range opts {
		if o == nil {
			misuse("Cache", "%s option is nil; pass options such as tta.TTL(time.Minute)", ordinal(i))
		}
		o(&cfg)
	}
	c := &cache[In, Out, K]{
		p:       p,
		key:     key,
		cfg:     cfg,
		entries: make(map[K]*cacheEntry[Out, K]),
		flights: make(map[K]*cacheFlight[Out]),
	}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

type cache[In, Out any, K comparable] struct {
	p   Primitive[In, Out]
	key func(In) K
	cfg cacheConfig

	mu      sync.Mutex                // protects entries, lru and flights
	entries map[K]*cacheEntry[Out, K] // stored results
	lru     cacheEntry[Out, K]        // list sentinel: lru.next is the most recently used entry, lru.prev the least
	flights map[K]*cacheFlight[Out]   // calls of p in progress
}

// cacheEntry is a stored result and its place in the LRU list.
type cacheEntry[Out any, K comparable] struct {
	key        K
	out        Out
	err        error
	expires    time.Time // zero without a TTL
	prev, next *cacheEntry[Out, K]
}

// cacheFlight is a call of p that other callers with the same key wait for.
// Its fields are written before done is closed and only read after.
type cacheFlight[Out any] struct {
	done  chan struct{}
	out   Out
	err   error
	retry bool // the owner gave up or panicked: waiters start over
}

func (c *cache[In, Out, K]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanCache)
	defer o.end(ctx, &err)
	k := c.key(in)
	for {
		c.mu.Lock()
		if e, ok := c.entries[k]; ok {
			if c.cfg.ttl == 0 || time.Now().Before(e.expires) {
				c.unlink(e)
				c.pushFront(e)
				out, err := e.out, e.err
				c.mu.Unlock()
				if o.recording() {
					o.set(attrCacheHit.Bool(true))
				}
				return out, err
			}
			c.unlink(e)
			delete(c.entries, k)
		}
		if f, ok := c.flights[k]; ok {
			c.mu.Unlock()
			if o.recording() {
				o.set(attrCacheHit.Bool(false), attrCacheShared.Bool(true))
			}
			select {
			case <-f.done:
				if !f.retry {
					return f.out, f.err
				}
				if ctx.Err() == nil {
					continue
				}
			case <-ctx.Done():
			}
			var zero Out
			return zero, context.Cause(ctx)
		}
		f := &cacheFlight[Out]{done: make(chan struct{})}
		c.flights[k] = f
		c.mu.Unlock()
		if o.recording() {
			o.set(attrCacheHit.Bool(false), attrCacheShared.Bool(false))
		}
		return c.own(ctx, in, k, f)
	}
}

// own calls p for flight f, stores the result as configured and wakes the
// waiters.
func (c *cache[In, Out, K]) own(ctx context.Context, in In, k K, f *cacheFlight[Out]) (out Out, err error) {
	returned := false
	defer func() {
		c.mu.Lock()
		delete(c.flights, k)
		if !returned || (err != nil && ctx.Err() != nil) {
			f.retry = true
		} else {
			f.out, f.err = out, err
			if err == nil || c.cfg.cacheErrors {
				c.store(k, out, err)
			}
		}
		c.mu.Unlock()
		close(f.done)
	}()
	out, err = c.p.Execute(ctx, in)
	returned = true
	return out, err
}

// store adds a result for k, which has no entry, evicting the least recently
// used entry if the cache is full. c.mu must be held.
func (c *cache[In, Out, K]) store(k K, out Out, err error) {
	var e *cacheEntry[Out, K]
	if len(c.entries) >= c.cfg.maxEntries {
		e = c.lru.prev
		c.unlink(e)
		delete(c.entries, e.key)
		*e = cacheEntry[Out, K]{}
	} else {
		e = new(cacheEntry[Out, K])
	}
	e.key, e.out, e.err = k, out, err
	if c.cfg.ttl > 0 {
		e.expires = time.Now().Add(c.cfg.ttl)
	}
	c.entries[k] = e
	c.pushFront(e)
}

func (c *cache[In, Out, K]) unlink(e *cacheEntry[Out, K]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (c *cache[In, Out, K]) pushFront(e *cacheEntry[Out, K]) {
	e.prev = &c.lru
	e.next = c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}
