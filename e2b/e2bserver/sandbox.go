package e2bserver

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// Resources every sandbox reports (E2B's defaults for its public templates).
const (
	sandboxCPUCount   = 2
	sandboxMemoryMB   = 512
	sandboxDiskSizeMB = 1024
)

// sandbox is one sandbox known to the Server. Immutable fields are set at
// creation; the rest is guarded by Server.mu.
type sandbox struct {
	id            string
	seq           uint64
	template      Template
	inst          Instance
	accessToken   string // "" unless secured (v2 create, or v1 with secure: true)
	metadata      map[string]string
	allowInternet *bool
	startedAt     time.Time
	procs         processTable // processes started through envd; has its own lock

	// guarded by Server.mu
	autoPause         bool
	state             wire.SandboxState
	endAt             time.Time
	timer             *time.Timer
	gen               uint64             // incremented whenever timer is replaced
	ctx               context.Context    // traffic context: done when killed, expired or paused
	cancel            context.CancelFunc // cancels ctx
	faults            SandboxFaults
	interpreterOpenAt time.Time // interpreter port closed before this instant
}

// setFaults installs f as the sandbox's faults, counting delays from now.
// The caller holds Server.mu.
func (sb *sandbox) setFaults(f SandboxFaults, now time.Time) {
	sb.faults = f
	sb.interpreterOpenAt = now.Add(f.ReadyAfter)
}

// interpreterOpenLocked reports whether faults and template let port 49999
// be open at now. The caller holds Server.mu.
func (sb *sandbox) interpreterOpenLocked(now time.Time) bool {
	if sb.template.NoInterpreter || sb.faults.NeverReady {
		return false
	}
	return !now.Before(sb.interpreterOpenAt)
}

// created is the control plane's "Sandbox" answer for sb. Domain is null, as
// E2B sends for its own domain.
func (s *Server) created(sb *sandbox) wire.SandboxCreated {
	return wire.SandboxCreated{
		TemplateID:      sb.template.ID,
		SandboxID:       sb.id,
		Alias:           sb.template.Alias,
		ClientID:        clientID,
		EnvdVersion:     s.envdVersion,
		EnvdAccessToken: sb.accessToken,
	}
}

// detailLocked describes sb for GET /sandboxes/{id}. The caller holds Server.mu.
func (s *Server) detailLocked(sb *sandbox) wire.SandboxDetail {
	return wire.SandboxDetail{
		TemplateID:          sb.template.ID,
		Alias:               sb.template.Alias,
		SandboxID:           sb.id,
		ClientID:            clientID,
		StartedAt:           sb.startedAt.UTC(),
		EndAt:               sb.endAt.UTC(),
		EnvdVersion:         s.envdVersion,
		EnvdAccessToken:     sb.accessToken,
		AllowInternetAccess: sb.allowInternet,
		CPUCount:            sandboxCPUCount,
		MemoryMB:            sandboxMemoryMB,
		DiskSizeMB:          sandboxDiskSizeMB,
		Metadata:            maps.Clone(sb.metadata),
		State:               sb.state,
	}
}

// Sandboxes describes the sandboxes the Server holds (running and paused),
// oldest first. Killed and expired sandboxes are gone from it: a test can
// assert that nothing leaked with len(s.Sandboxes()) == 0.
func (s *Server) Sandboxes() []wire.SandboxDetail {
	s.mu.Lock()
	defer s.mu.Unlock()
	sbs := slices.SortedFunc(maps.Values(s.sandboxes), func(a, b *sandbox) int {
		return compareUint(a.seq, b.seq)
	})
	out := make([]wire.SandboxDetail, 0, len(sbs))
	for _, sb := range sbs {
		out = append(out, s.detailLocked(sb))
	}
	return out
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Expire makes a sandbox time out now, exactly as when its timeout passes:
// requests in flight to it are cut, and it is gone (or paused, when created
// with autoPause). It reports whether a running sandbox was expired.
func (s *Server) Expire(sandboxID string) bool {
	s.mu.Lock()
	sb, ok := s.sandboxes[sandboxID]
	if !ok || sb.state != wire.StateRunning || s.closed {
		s.mu.Unlock()
		return false
	}
	s.expireLocked(sb) // unlocks
	return true
}

// armTimerLocked sets sb to expire d after now. The caller holds Server.mu.
func (s *Server) armTimerLocked(sb *sandbox, d time.Duration, now time.Time) {
	if d < 0 {
		d = 0
	}
	sb.endAt = now.Add(d)
	if sb.timer != nil {
		sb.timer.Stop()
	}
	sb.gen++
	gen := sb.gen
	sb.timer = time.AfterFunc(d, func() { s.onTimeout(sb, gen) })
}

// stopTimerLocked disarms sb's timer. The caller holds Server.mu.
func (sb *sandbox) stopTimerLocked() {
	if sb.timer != nil {
		sb.timer.Stop()
		sb.timer = nil
	}
	sb.gen++
}

// onTimeout runs when sb's timer fires.
func (s *Server) onTimeout(sb *sandbox, gen uint64) {
	s.mu.Lock()
	if s.closed || sb.gen != gen || s.sandboxes[sb.id] != sb || sb.state != wire.StateRunning {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.expireLocked(sb)
}

// expireLocked pauses sb (autoPause) or kills it. The caller holds Server.mu,
// which expireLocked releases.
func (s *Server) expireLocked(sb *sandbox) {
	if sb.autoPause {
		s.pauseLocked(sb)
		s.mu.Unlock()
		if p, ok := sb.inst.(Pauser); ok {
			_ = p.Pause(context.Background())
		}
		return
	}
	s.removeLocked(sb)
	s.mu.Unlock()
	_ = sb.inst.Close()
}

// expireSoon expires sb from a call path that may run inside the runtime (an
// emit callback): the sandbox is gone at once, its Instance is closed in the
// background so the runtime's own locks cannot deadlock.
func (s *Server) expireSoon(sb *sandbox) {
	s.mu.Lock()
	if s.closed || s.sandboxes[sb.id] != sb || sb.state != wire.StateRunning {
		s.mu.Unlock()
		return
	}
	if sb.autoPause {
		s.pauseLocked(sb)
		p, ok := sb.inst.(Pauser)
		if !ok {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			_ = p.Pause(context.Background())
		}()
		return
	}
	s.removeLocked(sb)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		_ = sb.inst.Close()
	}()
}

// removeLocked forgets sb, disarms its timer and cuts its traffic. The caller
// holds Server.mu and closes sb.inst afterwards.
func (s *Server) removeLocked(sb *sandbox) {
	delete(s.sandboxes, sb.id)
	sb.stopTimerLocked()
	sb.cancel()
}

// pauseLocked marks sb paused, disarms its timer and cuts its traffic. The
// caller holds Server.mu.
func (s *Server) pauseLocked(sb *sandbox) {
	sb.state = wire.StatePaused
	sb.stopTimerLocked()
	sb.endAt = time.Now()
	sb.cancel()
}

// resumeLocked marks sb running again for timeout. The caller holds Server.mu.
func (s *Server) resumeLocked(sb *sandbox, timeout time.Duration) {
	sb.state = wire.StateRunning
	sb.ctx, sb.cancel = context.WithCancel(context.Background())
	s.armTimerLocked(sb, timeout, time.Now())
}

// liveSandbox returns the running sandbox id and its traffic context.
func (s *Server) liveSandbox(id string) (*sandbox, context.Context, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.sandboxes[id]
	if !ok || sb.state != wire.StateRunning {
		return nil, nil, false
	}
	return sb, sb.ctx, true
}
