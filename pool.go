package tta

import (
	"context"
	"time"
)

// The warm pool (WithWarmPool) holds up to n ready sandboxes. Each one is
// handed to exactly one call or session and killed after it; the pool never
// gets a sandbox back. Its invariant, under CodeExecutionPrimitive.mu:
// len(pool) + poolPending <= n, so a fill never blocks on a full channel.

// refill starts background fills until the pool holds, or is preparing, its
// full size. A fill that fails is not retried until the next refill, which
// every call triggers: a template that cannot start costs one sandbox per
// call, not a loop of them.
func (p *CodeExecutionPrimitive) refill() {
	if p.pool == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	n := p.cfg.warm - len(p.pool) - p.poolPending
	if n <= 0 {
		p.mu.Unlock()
		return
	}
	p.poolPending += n
	p.wg.Add(n)
	p.mu.Unlock()
	for range n {
		go p.fill()
	}
}

// fill prepares one sandbox for the pool. Close cancels it through p.closing;
// provision then kills what it created.
func (p *CodeExecutionPrimitive) fill() {
	defer p.wg.Done()
	l, err := p.provision(p.closing)
	p.mu.Lock()
	p.poolPending--
	if err != nil {
		p.mu.Unlock()
		return
	}
	if p.closed {
		p.mu.Unlock()
		_ = p.killLease(p.closing, l)
		return
	}
	l.pooled = true
	p.pool <- l
	p.mu.Unlock()
}

// fromPool takes a ready sandbox from the pool, or returns nil when none is
// there. A sandbox that waited more than half its timeout is extended first;
// one that cannot be extended (it expired) is killed and skipped.
func (p *CodeExecutionPrimitive) fromPool(ctx context.Context) *lease {
	if p.pool == nil {
		return nil
	}
	for {
		var l *lease
		select {
		case l = <-p.pool:
		default:
			return nil
		}
		now := time.Now()
		if now.Sub(l.extended) < p.cfg.sandboxTimeout/2 {
			return l
		}
		if err := l.sb.SetTimeout(ctx, p.cfg.sandboxTimeout); err != nil {
			_ = p.killLease(ctx, l)
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		l.extended = now
		return l
	}
}
