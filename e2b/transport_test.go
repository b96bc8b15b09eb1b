package e2b

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSandboxTrafficUsesHTTP1EvenWhereHTTP2IsOffered(t *testing.T) {
	protos := make(chan string, 2)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		if r.URL.Path == "/execute" {
			_, _ = w.Write([]byte(`{"type":"end_of_execution"}` + "\n"))
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithSandboxURL(srv.URL))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	for _, hc := range []*http.Client{c.controlHTTP, c.sandboxHTTP} {
		hc.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	}

	// The control plane may use HTTP/2: check the test server offers it.
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/probe", nil)
	require.NoError(t, err)
	resp, err := c.controlHTTP.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", <-protos)

	_, err = testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1", <-protos, "closing the connection must interrupt the cell")
}

func TestVersionBefore(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"0.3.9", true},
		{"v0.1.0", true},
		{"0.4.0", false},
		{"0.4", false},
		{"1.0.0", false},
		{"0.10.1", false},
		{"", false},
		{"dev", false},
		{"x.y.z", false},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			assert.Equal(t, tt.want, versionBefore(tt.version, 0, 4))
		})
	}
}

func TestLegacyEnvdGetsTheUserNamed(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: "x"}
	c := newTestClient(t, rec)
	legacy := newSandbox(c, SandboxCreated{SandboxID: "old", EnvdVersion: "0.3.2"})
	_, err := legacy.ReadFile(context.Background(), "/a")
	require.NoError(t, err)
	assert.Equal(t, "path=%2Fa&username=user", rec.only(t).RawQuery)

	proc := &fakeProcess{script: nil}
	c2, _ := envdServer(t, nil, proc)
	legacy2 := newSandbox(c2, SandboxCreated{SandboxID: "old", EnvdVersion: "0.3.2"})
	_, err = legacy2.RunCommand(context.Background(), "true", CommandOptions{})
	require.ErrorIs(t, err, ErrExecutionInterrupted, "the fake sends no events")
	proc.mu.Lock()
	defer proc.mu.Unlock()
	assert.Equal(t, "Basic dXNlcjo=", proc.headers.Get("Authorization"), `base64 of "user:"`)
}

func TestRedirectsToAnotherHostAreNotFollowed(t *testing.T) {
	elsewhere := &recorder{status: http.StatusOK, body: createdAnswer}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, redirect)
	_, err := c.Create(context.Background(), CreateOptions{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTemporaryRedirect, apiErr.StatusCode)
	assert.Empty(t, elsewhere.seen, "the API key must not travel to another host")
}

func TestRedirectsOnTheSameHostAreFollowed(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sandboxes", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/v2/sandboxes", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("POST /v2/sandboxes", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(createdAnswer))
	})
	c := newTestClient(t, mux)
	sbx, err := c.Create(context.Background(), CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, "sbx1", sbx.ID())
}
