package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tta-dev/tta"
)

// Set is the tools of one agent, or one client of an MCP server, over a
// CodeExecutionPrimitive: run_code and run_command without session run in
// fresh sandboxes, and the sessions it opens are its own.
//
// The zero value is not usable: use NewSet. A Set is safe for concurrent
// use; calls on one session run one at a time, in order, and Close
// interrupts the calls in flight.
type Set struct {
	exec *tta.CodeExecutionPrimitive
	cfg  config

	mu       sync.Mutex // protects sessions and closed
	sessions map[string]*openSession
	closed   bool
}

// openSession is one session of a Set.
type openSession struct {
	id   string
	sess *tta.Session
	busy int         // calls in flight; guarded by Set.mu
	idle *time.Timer // closes the session when it fires; stopped while busy
}

// NewSet returns the tools over exec, configured by opts. It fails when exec
// is nil or an option is nil or bad.
func NewSet(exec *tta.CodeExecutionPrimitive, opts ...Option) (*Set, error) {
	if exec == nil {
		return nil, errNilExec
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Set{exec: exec, cfg: cfg, sessions: make(map[string]*openSession)}, nil
}

// Close closes every open session of the set, killing their sandboxes, and
// makes later calls fail with a tool error. It returns the kills' errors,
// joined. Close is idempotent; it does not close the CodeExecutionPrimitive.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	open := make([]*openSession, 0, len(s.sessions))
	for id, o := range s.sessions {
		o.idle.Stop()
		open = append(open, o)
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	errs := make([]error, len(open))
	var wg sync.WaitGroup
	for i, o := range open {
		wg.Go(func() { errs[i] = o.sess.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Sessions returns the IDs of the open sessions, in no particular order.
func (s *Set) Sessions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	return ids
}

// errSetClosed is the message of calls after Close.
const errSetClosed = "the tools are closed: no new sandbox or session can start"

// open starts a session and registers it.
func (s *Set) open(ctx context.Context) (*openSession, error) {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, errors.New(errSetClosed)
	case len(s.sessions) >= s.cfg.maxSessions:
		s.mu.Unlock()
		return nil, fmt.Errorf("%d sessions are open, the most allowed; close one with session_close first", s.cfg.maxSessions)
	}
	s.mu.Unlock()
	sess, err := s.exec.NewSession(ctx)
	if err != nil {
		return nil, err
	}
	o := &openSession{id: "s-" + randomHex(6), sess: sess}
	s.mu.Lock()
	if s.closed || len(s.sessions) >= s.cfg.maxSessions {
		s.mu.Unlock()
		_ = sess.Close()
		if s.closed {
			return nil, errors.New(errSetClosed)
		}
		return nil, fmt.Errorf("%d sessions are open, the most allowed; close one with session_close first", s.cfg.maxSessions)
	}
	o.idle = time.AfterFunc(s.cfg.idle, func() { s.expire(o) })
	s.sessions[o.id] = o
	s.mu.Unlock()
	return o, nil
}

// acquire returns the open session id, marked busy until release is called.
func (s *Set) acquire(id string) (*openSession, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New(errSetClosed)
	}
	o, ok := s.sessions[id]
	if !ok {
		return nil, nil, fmt.Errorf("no open session %q: open one with session_open (a session unused for %v is closed)", id, s.cfg.idle)
	}
	o.busy++
	o.idle.Stop()
	return o, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		o.busy--
		if o.busy == 0 && s.sessions[o.id] == o {
			o.idle.Reset(s.cfg.idle)
		}
	}, nil
}

// close removes the session id and kills its sandbox.
func (s *Set) close(id string) error {
	s.mu.Lock()
	o, ok := s.sessions[id]
	if ok {
		delete(s.sessions, id)
		o.idle.Stop()
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no open session %q: it was closed already, idled out after %v, or never opened", id, s.cfg.idle)
	}
	return o.sess.Close()
}

// expire closes o when its idle timer fired and it is still idle.
func (s *Set) expire(o *openSession) {
	s.mu.Lock()
	if s.sessions[o.id] != o || o.busy > 0 {
		s.mu.Unlock()
		return
	}
	delete(s.sessions, o.id)
	s.mu.Unlock()
	_ = o.sess.Close()
}

// randomHex returns n random bytes as 2n hexadecimal digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
