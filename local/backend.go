package local

import (
	"os"

	"github.com/tta-dev/tta/e2b"
)

// Backend is where a program's sandboxes run: E2B, or a local Server started
// for the program. Open chooses.
//
// The zero value is not usable: use Open. A Backend is safe for concurrent
// use; its Client is shared by all callers.
type Backend struct {
	client *e2b.Client
	local  *Server // nil on E2B
}

// E2BConfigured reports whether Open chooses E2B: the E2B_API_KEY environment
// variable is set and not empty. It reads only the environment.
func E2BConfigured() bool { return os.Getenv(e2b.EnvAPIKey) != "" }

// Open returns the program's sandbox backend.
//
// When E2BConfigured, it is E2B, or whatever server the E2B_* variables name
// (E2B_API_KEY, E2B_ACCESS_TOKEN, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL,
// read as E2B's SDKs do): Open makes a client and contacts nothing. It fails
// with e2b.ErrInvalidAPIKey when E2B_API_KEY is not "e2b_" followed by
// hexadecimal digits; a key E2B does not know shows on the first request
// (e2b.ErrUnauthorized). The options that configure a local server
// are checked but otherwise ignored; templates must exist in the E2B account.
//
// Otherwise Open starts a local Server with opts (see Start: loopback, a
// generated API key that is never shown, isolation where available) and
// returns a client of it.
//
// Either way, WithClientOptions apply to the client. Close the Backend when
// done: on a local server that kills every sandbox.
func Open(opts ...Option) (*Backend, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if E2BConfigured() {
		client, err := e2b.NewClient(cfg.clientOpts...)
		if err != nil {
			return nil, err
		}
		return &Backend{client: client}, nil
	}
	s, err := start(cfg)
	if err != nil {
		return nil, err
	}
	client, err := s.Client()
	if err != nil {
		_, _ = s.Close()
		return nil, err
	}
	return &Backend{client: client, local: s}, nil
}

// Client returns the backend's e2b client. It stays the same for the
// Backend's life; after Close it may still be used but, on a local server,
// reaches nothing.
func (b *Backend) Client() *e2b.Client { return b.client }

// Local returns the local server, or nil when the backend is E2B. Use it to
// reach the server's Handler (fault injection, inspection) or its URL; Close
// the Backend rather than the Server.
func (b *Backend) Local() *Server { return b.local }

// String names the backend: "local sandbox server" or "E2B" (which includes
// any server the E2B_* variables name).
func (b *Backend) String() string {
	if b.local != nil {
		return "local sandbox server"
	}
	return "E2B"
}

// Close releases the client's idle connections and, on a local server, closes
// it (see Server.Close): every sandbox is killed and nothing of the server is
// left running. Sandboxes on E2B are not touched: they live until killed or
// until their timeout. Close is idempotent.
func (b *Backend) Close() error {
	b.client.CloseIdleConnections()
	if b.local == nil {
		return nil
	}
	_, err := b.local.Close()
	return err
}
