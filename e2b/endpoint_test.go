package e2b

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// capturingTransport answers every request with 200 "[]" (or 204 for
// /health) and records the URL and headers it saw, so the host form can be
// tested without DNS.
type capturingTransport struct {
	mu   sync.Mutex // protects seen
	seen []*http.Request
}

func (ct *capturingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	ct.mu.Lock()
	ct.seen = append(ct.seen, r)
	ct.mu.Unlock()
	status := http.StatusOK
	if strings.HasSuffix(r.URL.Path, "/health") {
		status = http.StatusNoContent
	}
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`[]`)),
		Request:    r,
	}, nil
}

func (ct *capturingTransport) last(t *testing.T) *http.Request {
	t.Helper()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	require.NotEmpty(t, ct.seen)
	return ct.seen[len(ct.seen)-1]
}

func TestHostFormAddressing(t *testing.T) {
	clearEnv(t)
	ct := &capturingTransport{}
	c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: ct}))
	require.NoError(t, err)
	sbx := testSandbox(c, false)
	ctx := context.Background()

	assert.Equal(t, "49999-sbx1.e2b.app", sbx.Host(InterpreterPort))
	require.NoError(t, sbx.InterpreterHealth(ctx))
	req := ct.last(t)
	assert.Equal(t, "https://49999-sbx1.e2b.app/health", req.URL.String())
	assert.Equal(t, "sbx1", req.Header.Get(wire.HeaderSandboxID))
	assert.Equal(t, "49999", req.Header.Get(wire.HeaderSandboxPort))

	require.NoError(t, sbx.EnvdHealth(ctx))
	req = ct.last(t)
	assert.Equal(t, "https://49983-sbx1.e2b.app/health", req.URL.String())
	assert.Equal(t, "49983", req.Header.Get(wire.HeaderSandboxPort))

	_, err = sbx.ListDir(ctx, "/home/user")
	require.Error(t, err, "the canned answer is not a ListDir answer; only the address matters here")
	req = ct.last(t)
	assert.Equal(t, "https://49983-sbx1.e2b.app/filesystem.Filesystem/ListDir", req.URL.String())
	assert.Equal(t, "sbx1", req.Header.Get(wire.HeaderSandboxID))
}

func TestHostFormUsesTheSandboxDomain(t *testing.T) {
	clearEnv(t)
	ct := &capturingTransport{}
	c, err := NewClient(WithAPIKey(testKey), WithDomain("example.dev"), WithHTTPClient(&http.Client{Transport: ct}))
	require.NoError(t, err)

	plain := newSandbox(c, wire.SandboxCreated{SandboxID: "a1"})
	require.NoError(t, plain.InterpreterHealth(context.Background()))
	assert.Equal(t, "https://49999-a1.example.dev/health", ct.last(t).URL.String())

	own := "own.dev"
	custom := newSandbox(c, wire.SandboxCreated{SandboxID: "a2", Domain: &own})
	require.NoError(t, custom.InterpreterHealth(context.Background()))
	assert.Equal(t, "https://49999-a2.own.dev/health", ct.last(t).URL.String())
}

func TestSingleURLFormRoutesByHeaders(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `[]`}
	c := newTestClient(t, rec)
	sbx := testSandbox(c, false)
	_, err := sbx.ListContexts(context.Background())
	require.NoError(t, err)
	got := rec.only(t)
	assert.Equal(t, "/contexts", got.Path)
	assert.Equal(t, "sbx1", got.Header.Get(wire.HeaderSandboxID))
	assert.Equal(t, "49999", got.Header.Get(wire.HeaderSandboxPort))
	assert.Empty(t, got.Header.Get(wire.HeaderAccessToken), "not a secure sandbox")
	assert.Empty(t, got.Header.Get(wire.HeaderTrafficToken))
	assert.Empty(t, got.Header.Get(wire.HeaderAPIKey), "the API key is for the control plane only")
}

func TestSandboxAuthHeaders(t *testing.T) {
	tests := []struct {
		name        string
		created     wire.SandboxCreated
		wantAccess  string
		wantTraffic string
	}{
		{"insecure", wire.SandboxCreated{SandboxID: "sbx1"}, "", ""},
		{"secure", wire.SandboxCreated{SandboxID: "sbx1", EnvdAccessToken: testEnvdToken}, testEnvdToken, ""},
		{"traffic token", wire.SandboxCreated{SandboxID: "sbx1", TrafficAccessToken: ptr(testTrafficToken)}, "", testTrafficToken},
		{"both", wire.SandboxCreated{SandboxID: "sbx1", EnvdAccessToken: testEnvdToken, TrafficAccessToken: ptr(testTrafficToken)}, testEnvdToken, testTrafficToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: http.StatusNoContent}
			c := newTestClient(t, rec)
			sbx := newSandbox(c, tt.created)
			require.NoError(t, sbx.EnvdHealth(context.Background()))
			got := rec.only(t)
			assert.Equal(t, tt.wantAccess, got.Header.Get(wire.HeaderAccessToken))
			assert.Equal(t, tt.wantTraffic, got.Header.Get(wire.HeaderTrafficToken))
			assert.Equal(t, "sbx1", got.Header.Get(wire.HeaderSandboxID))
			assert.Equal(t, "49983", got.Header.Get(wire.HeaderSandboxPort))
		})
	}
}

func TestCreatedSandboxUsesItsAccessToken(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sandboxes", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, createdAnswer)
	})
	health := &recorder{status: http.StatusOK}
	mux.Handle("GET /health", health)
	c := newTestClient(t, mux)
	sbx, err := c.Create(context.Background(), CreateOptions{Secure: true})
	require.NoError(t, err)
	require.NoError(t, sbx.InterpreterHealth(context.Background()))
	assert.Equal(t, testEnvdToken, health.only(t).Header.Get(wire.HeaderAccessToken))
}

func ptr[T any](v T) *T { return &v }
