package tta

import (
	"context"
	"errors"
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
	l, err := p.provisionPooled()
	p.mu.Lock()
	p.poolPending--
	late := false
	switch {
	case err != nil:
		p.fillFails++
		p.fillErr = err
	case p.closed:
		late = true
	default:
		l.pooled = true
		p.pool <- l
		p.markIdle(l)
	}
	close(p.poolChanged)
	p.poolChanged = make(chan struct{})
	p.mu.Unlock()
	if late {
		_ = p.killLease(p.closing, l)
	}
}

// WaitWarm fills the warm pool (WithWarmPool) and waits until it holds its
// full size of ready sandboxes: created, probed, packages installed. Use it to
// warm up before serving, so that the first calls do not wait for sandboxes
// either. It starts fills for the empty slots, including those left empty by
// fills that failed, and returns nil once the pool is full, the error of a
// fill that failed while it waited (such as a *TemplateNotReadyError: the
// pool will not fill), ErrClosed when the primitive is closed, or ctx's cause
// when ctx ends first. Calls running concurrently take sandboxes from the
// pool, so under steady load WaitWarm may keep waiting: bound it with ctx.
// Without a pool it returns nil at once.
func (p *CodeExecutionPrimitive) WaitWarm(ctx context.Context) error {
	if p.pool == nil {
		return nil
	}
	p.mu.Lock()
	fails := p.fillFails
	p.mu.Unlock()
	for {
		p.mu.Lock()
		closed, full := p.closed, len(p.pool) == p.cfg.warm
		failed, err, changed := p.fillFails != fails, p.fillErr, p.poolChanged
		p.mu.Unlock()
		switch {
		case closed:
			return Permanent(ErrClosed)
		case full:
			return nil
		case failed:
			return err
		}
		p.refill()
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// poolSlack is how much longer than the sandbox timeout a pooled sandbox is
// created to live, and so how long it may wait in the pool and still have the
// whole timeout ahead of the call that takes it.
func poolSlack(timeout time.Duration) time.Duration { return timeout / 8 }

// provisionPooled prepares a sandbox for the pool, created to live poolSlack
// longer than the sandbox timeout. When the provider refuses that create for
// good but accepts one with the timeout itself (the timeout is at the
// provider's maximum), it keeps the sandbox created with the timeout and
// creates the next ones so; fromPool extends those when a call takes them.
func (p *CodeExecutionPrimitive) provisionPooled() (*lease, error) {
	d := p.cfg.sandboxTimeout
	ctx := withPurpose(p.closing, purposePool)
	if p.slackRefused.Load() {
		return p.provision(ctx, d)
	}
	l, err := p.provision(ctx, d+poolSlack(d))
	if se, ok := errors.AsType[*SandboxError](err); !ok || se.Op != "create" || IsTransient(err) || p.closing.Err() != nil {
		return l, err
	}
	l, plainErr := p.provision(ctx, d)
	if plainErr != nil {
		return nil, err
	}
	p.slackRefused.Store(true)
	return l, nil
}

// fromPool takes a ready sandbox from the pool, or returns nil when none is
// there. A sandbox with less than the sandbox timeout ahead of it (it waited
// longer than poolSlack, or was created without it) is extended first, so that
// the call has the whole timeout; one that cannot be extended (it is gone) is
// killed and skipped.
func (p *CodeExecutionPrimitive) fromPool(ctx context.Context) *lease {
	if p.pool == nil {
		return nil
	}
	for {
		var l *lease
		select {
		case l = <-p.pool:
			p.forgetIdle(l)
		default:
			return nil
		}
		now := time.Now()
		if l.extended.Add(l.lifetime).Sub(now) >= p.cfg.sandboxTimeout {
			return l
		}
		if err := l.sb.SetTimeout(ctx, p.cfg.sandboxTimeout); err != nil {
			_ = p.killLease(ctx, l)
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		l.extended, l.lifetime = now, p.cfg.sandboxTimeout
		return l
	}
}
