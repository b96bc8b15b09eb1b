package e2b

import (
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem/filesystemconnect"

	"github.com/tta-dev/tta/e2b/wire"
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
	legacy := newSandbox(c, wire.SandboxCreated{SandboxID: "old", EnvdVersion: "0.3.2"})
	_, err := legacy.ReadFile(context.Background(), "/a")
	require.NoError(t, err)
	assert.Equal(t, "path=%2Fa&username=user", rec.only(t).RawQuery)

	proc := &fakeProcess{script: nil}
	c2, _ := envdServer(t, nil, proc)
	legacy2 := newSandbox(c2, wire.SandboxCreated{SandboxID: "old", EnvdVersion: "0.3.2"})
	_, err = legacy2.RunCommand(context.Background(), "true", CommandOptions{})
	require.ErrorIs(t, err, ErrExecutionInterrupted, "the fake sends no events")
	proc.mu.Lock()
	defer proc.mu.Unlock()
	assert.Equal(t, "Basic dXNlcjo=", proc.headers.Get("Authorization"), `base64 of "user:"`)
}

func TestLegacyEnvdGetsTheUserNamedOnFilesystemCalls(t *testing.T) {
	fsys := &fakeFilesystem{dirs: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle(filesystemconnect.NewFilesystemHandler(fsys))
	var mu sync.Mutex
	auth := map[string][]string{} // procedure -> Authorization headers seen
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth[path.Base(r.URL.Path)] = append(auth[path.Base(r.URL.Path)], r.Header.Get("Authorization"))
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	ctx := context.Background()
	for _, tt := range []struct {
		version string
		want    string
	}{
		{"0.3.2", "Basic dXNlcjo="}, // base64 of "user:"
		{"0.4.0", ""},
		{"", ""},
	} {
		t.Run("envd "+tt.version, func(t *testing.T) {
			mu.Lock()
			clear(auth)
			mu.Unlock()
			sbx := newSandbox(c, wire.SandboxCreated{SandboxID: "sbx1", EnvdVersion: tt.version})
			_, err := sbx.Stat(ctx, "/home/user")
			require.NoError(t, err)
			_, err = sbx.ListDir(ctx, "/home/user")
			require.NoError(t, err)
			_, err = sbx.MakeDir(ctx, "/home/user/new-"+tt.version)
			require.NoError(t, err)
			require.NoError(t, sbx.Remove(ctx, "/home/user/old"))
			_, err = sbx.Move(ctx, "/home/user/a", "/home/user/b")
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			w := []string{tt.want}
			assert.Equal(t, map[string][]string{"Stat": w, "ListDir": w, "MakeDir": w, "Remove": w, "Move": w}, auth)
		})
	}
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

func TestStreamingRequestTimeoutBoundsTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The transport may go on dialing for a later request once this one
		// has given up: the dial ends with the test.
		testDone := make(chan struct{})
		defer close(testDone)
		hang := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-testDone:
				return nil, net.ErrClosed
			}
		}}
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: hang}), WithRequestTimeout(5*time.Second))
		require.NoError(t, err)
		start := time.Now()
		_, err = testSandbox(c, false).WriteFile(context.Background(), "a.txt", []byte("a"))
		assert.Equal(t, 5*time.Second, time.Since(start), "no connection within the request timeout")
		require.ErrorIs(t, err, ErrRequestTimeout)
		assert.True(t, err.(*TransportError).Transient())
	})
}

// TestStreamingRequestTimeoutEndsWithTheHeaders has the transport report the
// request written only after the answer has begun, as it does when a server
// answers before reading the whole body: the timeout, over once the headers
// arrived, must not start again and cut the answer.
func TestStreamingRequestTimeoutEndsWithTheHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			trace := httptrace.ContextClientTrace(r.Context())
			trace.WroteHeaders()
			pr, pw := io.Pipe()
			go func() {
				<-r.Context().Done()
				_ = pw.CloseWithError(r.Context().Err())
			}()
			go func() {
				time.Sleep(time.Second)
				trace.WroteRequest(httptrace.WroteRequestInfo{})
				time.Sleep(20 * time.Second)
				_, _ = io.WriteString(pw, `{"type":"stdout","text":"late\n"}`+"\n"+`{"type":"end_of_execution"}`+"\n")
			}()
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: pr, Request: r}, nil
		})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: tr}), WithRequestTimeout(5*time.Second))
		require.NoError(t, err)
		exec, err := testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{"late\n"}, exec.Logs.Stdout)
	})
}
