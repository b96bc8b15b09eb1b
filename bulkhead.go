package tta

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// BulkheadOption configures Bulkhead. Each option panics at once on an invalid
// value; a later option overrides an earlier one of the same kind.
type BulkheadOption func(*bulkheadConfig)

type bulkheadConfig struct {
	queueSize   int           // < 0: unbounded
	waitTimeout time.Duration // 0: wait as long as the caller's context allows
}

// QueueSize bounds how many callers may wait for a slot when all are busy; a
// caller beyond that is rejected at once with an error wrapping
// ErrBulkheadFull. QueueSize(0) allows no waiting: a call that finds every slot
// busy is rejected at once, which sheds load instead of queueing it. By default
// the queue is unbounded: callers wait until a slot frees up, their context is
// done or WaitTimeout passes. It panics if n < 0.
func QueueSize(n int) BulkheadOption {
	if n < 0 {
		misuse("Bulkhead", "QueueSize must be >= 0, got %d; use 0 to reject calls at once when every slot is busy", n)
	}
	return func(c *bulkheadConfig) { c.queueSize = n }
}

// WaitTimeout bounds how long a caller waits for a slot; after d it gives up
// with an error wrapping ErrBulkheadFull. By default a caller waits as long as
// its context allows. It does not limit the call itself once it has a slot (use
// Timeout for that). It panics if d <= 0.
func WaitTimeout(d time.Duration) BulkheadOption {
	if d <= 0 {
		misuse("Bulkhead", "WaitTimeout must be > 0, got %v; drop the option to wait as long as the caller's context allows", d)
	}
	return func(c *bulkheadConfig) { c.waitTimeout = d }
}

// Bulkhead returns a Primitive that runs at most n calls of p at once, so that
// one busy dependency cannot take every goroutine, connection or sandbox.
//
// A call that finds all n slots busy waits for one, in arrival order. By
// default any number of callers may wait, each until a slot frees up or its ctx
// is done (then it returns context.Cause(ctx)): Bulkhead(p, n) simply limits
// concurrency. QueueSize(q) lets at most q callers wait and rejects the rest at
// once (QueueSize(0): no waiting at all); WaitTimeout(d) makes a waiting caller
// give up after d. Both rejections return the zero Out and an error wrapping
// ErrBulkheadFull whose message gives the limit and the queue size; p is not
// called. A call that gets a slot returns p's result unchanged and frees the
// slot when p returns or panics.
//
// A call that finds a free slot costs two channel operations and does not
// allocate. Bulkhead panics if p is nil, n < 1 or an option is nil. The
// returned Primitive is safe for concurrent use; all callers share its slots.
func Bulkhead[In, Out any](p Primitive[In, Out], n int, opts ...BulkheadOption) Primitive[In, Out] {
	mustNotBeNil("Bulkhead", "primitive", p)
	if n < 1 {
		misuse("Bulkhead", "limit must be >= 1, got %d; pass the most calls that may run at once", n)
	}
	cfg := bulkheadConfig{queueSize: -1}
	for i, o := range opts {
		if o == nil {
			misuse("Bulkhead", "%s option is nil; pass options such as tta.QueueSize(10)", ordinal(i))
		}
		o(&cfg)
	}
	return &bulkhead[In, Out]{p: p, cfg: cfg, slots: make(chan struct{}, n)}
}

type bulkhead[In, Out any] struct {
	p       Primitive[In, Out]
	cfg     bulkheadConfig
	slots   chan struct{} // one element per running call; its capacity is the limit
	waiting atomic.Int64  // callers waiting for a slot
}

func (b *bulkhead[In, Out]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanBulkhead)
	defer o.end(ctx, &err)
	select {
	case b.slots <- struct{}{}:
	default:
		if err := b.wait(ctx); err != nil {
			var zero Out
			return zero, err
		}
	}
	defer func() { <-b.slots }()
	return b.p.Execute(ctx, in)
}

// wait queues the caller for a slot and takes one, or returns why not.
func (b *bulkhead[In, Out]) wait(ctx context.Context) error {
	n := b.waiting.Add(1)
	defer b.waiting.Add(-1)
	if q := b.cfg.queueSize; q >= 0 && n > int64(q) {
		if q == 0 {
			return fmt.Errorf("%w: limit %d reached and waiting not allowed (queue size 0)", ErrBulkheadFull, cap(b.slots))
		}
		return fmt.Errorf("%w: limit %d reached and queue full (queue size %d)", ErrBulkheadFull, cap(b.slots), q)
	}
	var timeout <-chan time.Time
	if b.cfg.waitTimeout > 0 {
		t := time.NewTimer(b.cfg.waitTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timeout:
		return fmt.Errorf("%w: no slot freed within %v (limit %d, queue size %s)", ErrBulkheadFull, b.cfg.waitTimeout, cap(b.slots), b.queueSize())
	}
}

func (b *bulkhead[In, Out]) queueSize() string {
	if b.cfg.queueSize < 0 {
		return "unbounded"
	}
	return strconv.Itoa(b.cfg.queueSize)
}
