package tta

import (
	"context"
	"slices"
	"time"
)

// poolProbeTimeout bounds one health check of an idle pooled sandbox.
const poolProbeTimeout = 10 * time.Second

// minPoolCheckInterval is the shortest time between two checks of the pool,
// whatever the sandbox timeout.
const minPoolCheckInterval = 100 * time.Millisecond

// tendPool keeps the idle sandboxes of the warm pool usable until Close: every
// poolSlack of the sandbox timeout (at least minPoolCheckInterval) it checks
// them (checkPool). It holds a count of p.wg until it returns.
func (p *CodeExecutionPrimitive) tendPool() {
	defer p.wg.Done()
	t := time.NewTicker(max(poolSlack(p.cfg.sandboxTimeout), minPoolCheckInterval))
	defer t.Stop()
	for {
		select {
		case <-p.closing.Done():
			return
		case <-t.C:
		}
		p.checkPool()
	}
}

// markIdle records that l waits in the pool. The caller holds p.mu.
func (p *CodeExecutionPrimitive) markIdle(l *lease) {
	if p.poolIdle == nil {
		p.poolIdle = make(map[*lease]time.Time)
	}
	p.poolIdle[l] = l.extended.Add(l.lifetime)
}

// forgetIdle records that l, taken from the pool, no longer waits there.
func (p *CodeExecutionPrimitive) forgetIdle(l *lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.poolIdle, l)
}

// checkPool checks the sandboxes idle in the pool and replaces those that
// fail (poolHealthy) before they expire: they are taken out of the pool,
// killed in the background, and a refill replaces them. The checks leave the
// sandboxes in the pool, so a call meanwhile takes one as usual; and a check
// is a request to the interpreter, not to the control plane: it leaves the
// sandbox's end time where it is, so an unused pool ends at its timeout even
// if every kill is lost. The pool holds at most its size, plus the fills in
// flight that replace what was retired.
func (p *CodeExecutionPrimitive) checkPool() {
	p.mu.Lock()
	idle := make(map[*lease]time.Time, len(p.poolIdle))
	for l, end := range p.poolIdle {
		idle[l] = end
	}
	p.mu.Unlock()
	var bad []*lease
	for l, end := range idle {
		if !p.poolHealthy(l, end) {
			bad = append(bad, l)
		}
	}
	if len(bad) == 0 {
		return
	}
	var retired, kept []*lease
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return // Close kills them all
	}
	for drained := false; !drained; {
		select {
		case l := <-p.pool:
			if slices.Contains(bad, l) {
				retired = append(retired, l)
				delete(p.poolIdle, l)
			} else {
				kept = append(kept, l)
			}
		default:
			drained = true
		}
	}
	for _, l := range kept {
		p.pool <- l
	}
	p.mu.Unlock()
	for _, l := range retired {
		p.killLater(p.closing, l)
	}
	p.refill()
}

// poolHealthy reports whether the idle pooled sandbox l, which lives until
// end by what its create and last SetTimeout said, is worth keeping: it lives
// more than two poolSlacks longer (the next check comes one poolSlack from
// now, so no sandbox comes within a poolSlack of its end in the pool), and
// its interpreter answers a probe.
func (p *CodeExecutionPrimitive) poolHealthy(l *lease, end time.Time) bool {
	if time.Until(end) <= 2*poolSlack(p.cfg.sandboxTimeout) {
		return false
	}
	ctx, cancel := context.WithTimeout(p.closing, poolProbeTimeout)
	defer cancel()
	return l.sb.Probe(ctx) == nil
}
