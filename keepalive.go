package tta

import (
	"context"
	"sync"
	"time"
)

// keeper extends the timeout of a sandbox while a call uses it: whenever the
// sandbox has half the sandbox timeout or less left, it sets the timeout
// again. The timeout is there to end sandboxes whose kill was lost, not to cut
// off code that runs long; with a keeper a sandbox still ends within the
// timeout of its holder stopping (a crash included), and a call may run as
// long as its ctx and CodeInput.Timeout allow.
type keeper struct {
	sb      Sandbox
	timeout time.Duration
	ctx     context.Context    // the call's, cancelled by stop
	cancel  context.CancelFunc // cancels ctx
	running sync.WaitGroup     // an extension in flight

	mu       sync.Mutex // protects the fields below; stop reads extended after running.Wait
	timer    *time.Timer
	stopped  bool
	extended time.Time // when an extension last succeeded; zero: none
}

// keepAlive starts a keeper for l during a call with ctx, and returns the
// function that stops it, waits for an extension in flight and records the
// last one in l. The caller holds l, and calls stop before touching l again.
func (p *CodeExecutionPrimitive) keepAlive(ctx context.Context, l *lease) (stop func()) {
	d := p.cfg.sandboxTimeout
	kctx, cancel := context.WithCancel(ctx)
	k := &keeper{sb: l.sb, timeout: d, ctx: kctx, cancel: cancel}
	first := time.Until(l.extended.Add(l.lifetime)) - d/2
	k.mu.Lock() // extend may run at once and reads k.timer under k.mu
	k.timer = time.AfterFunc(max(first, 0), k.extend)
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		k.stopped = true
		k.timer.Stop()
		k.mu.Unlock()
		k.cancel()
		k.running.Wait()
		if !k.extended.IsZero() {
			l.extended, l.lifetime = k.extended, d
		}
	}
}

// extend sets the sandbox's timeout once and arms the next extension, half a
// timeout later, or an eighth after a failure. A failed extension is not an
// error of the call: the call itself fails if the sandbox is gone.
func (k *keeper) extend() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.running.Add(1)
	k.mu.Unlock()
	defer k.running.Done()

	now := time.Now()
	err := k.sb.SetTimeout(k.ctx, k.timeout)

	k.mu.Lock()
	defer k.mu.Unlock()
	next := k.timeout / 2
	if err == nil {
		k.extended = now
	} else {
		next = k.timeout / 8 // try again well before the sandbox ends
	}
	if !k.stopped {
		k.timer.Reset(next)
	}
}
