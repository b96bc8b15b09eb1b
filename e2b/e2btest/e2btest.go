// Package e2btest starts E2B-compatible servers (package e2bserver) for tests
// and returns e2b clients configured to use them: no network beyond the
// machine, no real API key.
//
//	func TestAnalysis(t *testing.T) {
//		env := e2btest.Start(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
//			Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
//		}))
//		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
//		...
//		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Status: 429, Times: 1})
//	}
//
// Start listens on 127.0.0.1. Inside a testing/synctest bubble use
// StartInMemory instead: its connections are in-memory pipes, so fake time
// advances while requests wait, and sandbox timeouts, injected delays and
// keepalives all run in fake time.
//
// Start and StartInMemory take the server's own options (e2bserver.Option,
// named With...); a bad or nil option fails the test with the error
// e2bserver.New returns, as does anything else that keeps the server from
// starting. Neither panics.
package e2btest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/internal/apikey"
)

// inMemoryURL is the base URL clients of StartInMemory use. It names no real
// host: requests travel through in-memory pipes.
const inMemoryURL = "http://e2b.local"

// Env is a running test server with what a client needs to reach it. Its
// fields are set by Start and StartInMemory and must not be changed; Client
// and Server are safe for concurrent use.
type Env struct {
	// Client is an e2b client configured for Server.
	Client *e2b.Client
	// Server is the server, for fault injection and inspection.
	Server *e2bserver.Server
	// APIKey is the generated key Server accepts (e2b_ and 40 hex digits).
	APIKey string
	// URL is the base URL of both the control plane and sandbox traffic.
	URL string
	// HTTPClient is the HTTP client requests must go through (the in-memory
	// network), or nil when any client reaches URL.
	HTTPClient *http.Client
}

// ClientOptions returns the options Client was made with, to build another
// client for the same server with more options:
//
//	c, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithRequestTimeout(time.Second))...)
func (e *Env) ClientOptions() []e2b.Option {
	opts := []e2b.Option{e2b.WithAPIKey(e.APIKey), e2b.WithAPIURL(e.URL), e2b.WithSandboxURL(e.URL)}
	if e.HTTPClient != nil {
		opts = append(opts, e2b.WithHTTPClient(e.HTTPClient))
	}
	return opts
}

// Start starts an e2bserver.Server configured by opts behind an
// httptest.Server on 127.0.0.1, with a generated API key, and a client for it.
// Cleanup (t.Cleanup) kills every sandbox, closes the server and the client's
// idle connections. It fails the test if the server cannot be built.
func Start(t testing.TB, opts ...e2bserver.Option) *Env {
	t.Helper()
	return start(t, opts, func(srv *e2bserver.Server) (string, *http.Client, func()) {
		ts := httptest.NewServer(srv)
		return ts.URL, nil, ts.Close
	})
}

// StartInMemory is Start over an in-memory network (see
// e2bserver.Server.InMemoryClient) instead of a socket: the way to run the
// server inside a testing/synctest bubble. Call it from inside the bubble.
func StartInMemory(t testing.TB, opts ...e2bserver.Option) *Env {
	t.Helper()
	return start(t, opts, func(srv *e2bserver.Server) (string, *http.Client, func()) {
		return inMemoryURL, srv.InMemoryClient(), func() {}
	})
}

// start builds the server, serves it with serve (which returns the base URL,
// the HTTP client to reach it, nil for the default, and how to stop serving),
// and makes a client for it.
func start(t testing.TB, opts []e2bserver.Option, serve func(*e2bserver.Server) (string, *http.Client, func())) *Env {
	t.Helper()
	key := apikey.New()
	srv, err := e2bserver.New(append([]e2bserver.Option{e2bserver.WithAPIKey(key)}, opts...)...)
	if err != nil {
		t.Fatalf("e2btest: %v", err)
	}
	url, httpClient, stop := serve(srv)
	env := &Env{Server: srv, APIKey: key, URL: url, HTTPClient: httpClient}
	client, err := e2b.NewClient(env.ClientOptions()...)
	if err != nil {
		_ = srv.Close()
		stop()
		t.Fatalf("e2btest: %v", err)
	}
	env.Client = client
	t.Cleanup(func() {
		client.CloseIdleConnections()
		if err := srv.Close(); err != nil {
			t.Errorf("e2btest: closing the server: %v", err)
		}
		stop()
	})
	return env
}
