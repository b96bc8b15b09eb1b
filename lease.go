package tta

import (
	"context"
	"sync"
	"time"
)

// lease is one sandbox the primitive created, from creation to kill. Its
// holder (one call, a session, or the pool) is the only one to use the
// sandbox; kill may be called by anyone, any number of times.
type lease struct {
	sb       Sandbox
	template string    // Template.String of its template
	created  time.Time // when Create was called
	startup  time.Duration
	probes   int
	// provisioned lists the packages installed while the sandbox was
	// prepared (WithPackages).
	provisioned []string
	// pooled reports whether the sandbox was prepared ahead of demand.
	pooled bool
	// telemetry is where its creation was reported, and its kill is; nil
	// when nowhere.
	telemetry *Telemetry

	// Owned by the holder.
	extended  time.Time       // when its timeout was last set (created, then SetTimeout)
	lifetime  time.Duration   // the timeout set then
	installed map[string]bool // packages installed so far

	mu      sync.Mutex // protects killed, killing and killErr
	killed  bool
	killing chan struct{} // closed when the kill in progress ends; nil if none
	killErr error         // the last kill's error
}

// kill kills the sandbox unless it already was. A kill in progress is waited
// for, not repeated. It runs with context.WithoutCancel(ctx) bounded by
// timeout, so a cancelled caller still cleans up.
func (l *lease) kill(ctx context.Context, timeout time.Duration, killer Primitive[Sandbox, struct{}]) error {
	l.mu.Lock()
	if l.killed {
		l.mu.Unlock()
		return nil
	}
	if ch := l.killing; ch != nil {
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.killErr
	}
	ch := make(chan struct{})
	l.killing = ch
	l.mu.Unlock()

	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	_, err := killer.Execute(kctx, l.sb)
	cancel()
	if err != nil {
		err = &SandboxError{Op: "kill", SandboxID: l.sb.ID(), Template: l.template, Err: err}
	}

	if err == nil {
		l.sandboxLive(ctx, -1)
	} else {
		l.killFailed(ctx, err)
	}
	l.mu.Lock()
	l.killing = nil
	l.killed = err == nil
	l.killErr = err
	l.mu.Unlock()
	close(ch)
	return err
}

// killOnce kills sb once; the primitive's killer retries it.
func killOnce(ctx context.Context, sb Sandbox) (struct{}, error) {
	return struct{}{}, sb.Kill(ctx)
}

// killLater kills l's sandbox in the background, as killLease does. It must
// be called by a call in flight (begin), so that Close, which waits for p.wg,
// waits for this kill too; a kill that fails leaves l tracked, and Close
// tries again.
func (p *CodeExecutionPrimitive) killLater(ctx context.Context, l *lease) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.killLease(ctx, l)
	}()
}

// killLease kills l's sandbox within the kill timeout, even when ctx is done,
// and stops tracking it once killed.
func (p *CodeExecutionPrimitive) killLease(ctx context.Context, l *lease) error {
	err := l.kill(ctx, p.cfg.killTimeout, p.killer)
	if err == nil {
		p.mu.Lock()
		delete(p.live, l)
		p.mu.Unlock()
	}
	return err
}
