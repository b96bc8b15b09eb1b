package localrt

import (
	"fmt"
	"sync"
)

// maxIdleNets bounds the network namespaces with internet access a Runtime
// keeps for reuse.
const maxIdleNets = 4

// netPool reuses the network namespaces of sandboxes with internet access
// once those sandboxes ended: destroying a namespace with a slirp4netns
// device is slow in the kernel and slows the next sandbox's start down with
// it, and making one costs a slirp4netns start. A namespace is reused only
// once every process of its sandbox has ended, and only while the host's
// addresses are those its routes refuse. Nothing of a sandbox remains in
// it: its sockets ended with its processes, and the namespace belongs to
// the host's user namespace, so the sandbox could change none of its
// interfaces, routes or settings.
//
// A netPool is safe for concurrent use.
type netPool struct {
	slirp, ip string

	mu     sync.Mutex // protects the fields below
	idle   []*netns
	closed bool
}

// get returns a namespace with internet access: an idle one whose routes
// are current, else a new one.
func (p *netPool) get() (*netns, error) {
	block, err := blockedPrefixes()
	if err != nil {
		return nil, err
	}
	for {
		p.mu.Lock()
		var n *netns
		if k := len(p.idle); k > 0 {
			n, p.idle = p.idle[k-1], p.idle[:k-1]
		}
		p.mu.Unlock()
		if n == nil {
			return newNetns(p.slirp, p.ip)
		}
		if n.block == fmt.Sprint(block) {
			return n, nil
		}
		n.close() // the host's addresses changed since it was made
	}
}

// put keeps n for reuse, or closes it when the pool is full or closed. The
// caller guarantees that no process of n's sandbox runs any more.
func (p *netPool) put(n *netns) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < maxIdleNets {
		p.idle = append(p.idle, n)
		n = nil
	}
	p.mu.Unlock()
	if n != nil {
		n.close()
	}
}

// close closes the idle namespaces; later puts close theirs.
func (p *netPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, n := range idle {
		n.close()
	}
}
