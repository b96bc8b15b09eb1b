package e2bserver

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// InMemoryClient returns an HTTP client whose connections reach the Server
// through in-memory pipes (net.Pipe) instead of sockets. Any URL works: the
// host name only matters for Host routing (e.g. http://49999-<id>.e2b.local).
//
// It is the way to use the Server inside a testing/synctest bubble, where
// goroutines blocked on real network I/O stop fake time from advancing:
// create the Server and the client inside the bubble and Close the Server
// before the bubble ends. Connections are HTTP/1.1, so resets and stream cuts
// behave as on TCP (the client sees EOF or an unexpected EOF).
//
// All clients returned share one transport and one internal http.Server, both
// closed by Close; after Close the client's requests fail.
func (s *Server) InMemoryClient() *http.Client {
	s.mu.Lock()
	if s.mem == nil && !s.closed {
		s.mem = newMemNetwork(s)
	}
	mem := s.mem
	s.mu.Unlock()
	if mem == nil {
		return &http.Client{Transport: &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, net.ErrClosed },
		}}
	}
	return &http.Client{Transport: mem.transport}
}

// memNetwork serves a handler over in-memory connections.
type memNetwork struct {
	ln        *pipeListener
	srv       *http.Server
	transport *http.Transport
	served    chan struct{} // closed when srv.Serve returns
}

func newMemNetwork(h http.Handler) *memNetwork {
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	m := &memNetwork{
		ln:     ln,
		srv:    &http.Server{Handler: h},
		served: make(chan struct{}),
		transport: &http.Transport{
			DialContext:         ln.dial,
			MaxIdleConnsPerHost: 64,
		},
	}
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(ln)
	}()
	return m
}

// close stops the server and its connections and waits for it to stop.
func (m *memNetwork) close() {
	_ = m.srv.Close()
	_ = m.ln.Close()
	m.transport.CloseIdleConnections()
	<-m.served
}

// pipeListener is a net.Listener whose connections come from dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects a new in-memory connection to the listener.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	_ = client.Close()
	_ = server.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, net.ErrClosed
}

// pipeAddr is the address of in-memory connections.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "e2bserver.memory" }
