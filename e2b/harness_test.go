package e2b

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// Keys and tokens used by the tests. They are shaped like real ones so that
// redaction is tested against realistic values.
const (
	testKey          = "e2b_0123456789abcdef0123456789abcdef"
	testAccessToken  = "sk_e2b_personal_token_42"
	testEnvdToken    = "envd-token-7f3a9c"
	testTrafficToken = "traffic-token-5b1d2e"
)

// transient is the method by which this package's errors say whether trying
// again can help (tta.TransientError, which this package does not import).
type transient interface{ Transient() bool }

// envdAnswer is an error answer to a request for envd, and the sentinel the
// client's error must match.
type envdAnswer struct {
	name   string
	status int
	body   string
	want   error
}

// envdProxyAnswers are E2B's proxy's answers when envd cannot be reached:
// its port is not open yet, or the sandbox is gone.
var envdProxyAnswers = []envdAnswer{
	{"port not open", 502, `{"sandboxId":"sbx1","message":"The sandbox is running but port is not open","port":49983,"code":502}`, ErrPortNotOpen},
	{"sandbox gone", 502, `{"sandboxId":"sbx1","message":"The sandbox was not found","code":502}`, ErrSandboxNotFound},
}

// refusingAddr returns a loopback address nothing listens on: a connection
// to it is refused.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// clearEnv unsets every variable NewClient reads, for the test's duration.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{EnvAPIKey, EnvAccessToken, EnvDomain, EnvAPIURL, EnvSandboxURL} {
		t.Setenv(k, "")
	}
}

// newTestClient serves h over plain http on loopback and returns a Client whose
// control plane and sandboxes (single-URL form) are that server.
func newTestClient(t testing.TB, h http.Handler, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	base := []Option{WithAPIKey(testKey), WithAPIURL(srv.URL), WithSandboxURL(srv.URL)}
	c, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.CloseIdleConnections()
		srv.Close()
	})
	return c
}

// testSandbox returns a handle to sandbox "sbx1" without asking the control
// plane; secure sandboxes get testEnvdToken.
func testSandbox(c *Client, secure bool) *Sandbox {
	created := wire.SandboxCreated{SandboxID: "sbx1", TemplateID: "tmpl1", EnvdVersion: "0.4.0"}
	if secure {
		created.EnvdAccessToken = testEnvdToken
	}
	return newSandbox(c, created)
}

// request is what a test server saw of one request.
type request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// recorder answers every request with one canned answer and records what it saw.
type recorder struct {
	status int
	header map[string]string
	body   string

	mu   sync.Mutex // protects seen
	seen []request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.seen = append(rec.seen, request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	rec.mu.Unlock()
	for k, v := range rec.header {
		w.Header().Set(k, v)
	}
	if rec.body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rec.status)
	_, _ = io.WriteString(w, rec.body)
}

// only returns the one request the recorder saw.
func (rec *recorder) only(t *testing.T) request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.seen, 1)
	return rec.seen[0]
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
