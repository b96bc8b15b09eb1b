package e2btest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
)

// recordingTransport records where each request went and with which routing
// headers; with stripRouting it removes the E2b-Sandbox-* headers first, as a
// proxy routing by host name would not need them, so that the server can only
// route by host.
type recordingTransport struct {
	next         http.RoundTripper
	stripRouting bool

	mu   sync.Mutex
	seen []string // "<host> <path> id=<E2b-Sandbox-Id> port=<E2b-Sandbox-Port>"
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.seen = append(rt.seen, fmt.Sprintf("%s %s id=%s port=%s", req.URL.Host, req.URL.Path,
		req.Header.Get(wire.HeaderSandboxID), req.Header.Get(wire.HeaderSandboxPort)))
	rt.mu.Unlock()
	if rt.stripRouting && req.Header.Get(wire.HeaderSandboxID) != "" {
		req = req.Clone(req.Context())
		req.Header.Del(wire.HeaderSandboxID)
		req.Header.Del(wire.HeaderSandboxPort)
	}
	return rt.next.RoundTrip(req)
}

func (rt *recordingTransport) requests() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.seen...)
}

// exercise makes one call of each kind through sbx: interpreter REST and
// stream, envd REST (upload, download) and Connect (unary and stream).
func exercise(t *testing.T, ctx context.Context, sbx *e2b.Sandbox) {
	t.Helper()
	require.NoError(t, sbx.InterpreterHealth(ctx))
	exec, err := sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "2", exec.Text())
	_, err = sbx.ListContexts(ctx)
	require.NoError(t, err)
	require.NoError(t, sbx.EnvdHealth(ctx))
	_, err = sbx.WriteFile(ctx, "routed.txt", []byte("routed"))
	require.NoError(t, err)
	data, err := sbx.ReadFile(ctx, "routed.txt")
	require.NoError(t, err)
	assert.Equal(t, "routed", string(data))
	st, err := sbx.Stat(ctx, "routed.txt")
	require.NoError(t, err)
	assert.Equal(t, int64(6), st.Size)
	res, err := sbx.RunCommand(ctx, "echo hi", e2b.CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, "hi\n", res.Stdout)
}

var routingRuntime = &e2bserver.ScriptedRuntime{
	Replies:  map[string]e2bserver.Reply{"1+1": {Result: "2"}},
	Commands: map[string]e2bserver.CommandReply{"echo hi": {Stdout: "hi\n"}},
}

func TestHeaderRouting(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithRuntime(routingRuntime))
	rec := &recordingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	hc := &http.Client{Transport: rec}
	defer hc.CloseIdleConnections()
	client, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithHTTPClient(hc))...)
	require.NoError(t, err)
	ctx := t.Context()
	for _, secure := range []bool{false, true} {
		sbx, err := client.Create(ctx, e2b.CreateOptions{Secure: secure})
		require.NoError(t, err)
		exercise(t, ctx, sbx)
	}

	server := strings.TrimPrefix(env.URL, "http://")
	var sandboxCalls int
	for _, r := range rec.requests() {
		assert.True(t, strings.HasPrefix(r, server+" "), "every request goes to the one URL: %s", r)
		if strings.Contains(r, " id= ") {
			assert.Regexp(t, `^\S+ /(v2/)?sandboxes\S* id= port=$`, r, "only control-plane calls lack the headers")
			continue
		}
		sandboxCalls++
		assert.Regexp(t, `id=i[0-9a-z]{20} port=(49983|49999)$`, r)
	}
	assert.Equal(t, 2*8, sandboxCalls, "eight sandbox calls for each of two sandboxes")
}

// TestHostRouting reaches the loopback server in host form: the client is
// configured with a domain and no sandbox URL, so it sends
// https://<port>-<id>.<domain>, and a dialer sends every host to the
// listener. The domain is example.com because httptest's certificate is valid
// for *.example.com.
func TestHostRouting(t *testing.T) {
	srv, err := e2bserver.New(e2bserver.WithRuntime(routingRuntime))
	require.NoError(t, err)
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	defer func() { require.NoError(t, srv.Close()) }()

	tr := ts.Client().Transport.(*http.Transport).Clone()
	addr := ts.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	rec := &recordingTransport{next: tr, stripRouting: true}
	hc := &http.Client{Transport: rec}
	defer hc.CloseIdleConnections()
	client, err := e2b.NewClient(e2b.WithAPIKey("e2b_0123456789abcdef"), e2b.WithDomain("example.com"), e2b.WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com", client.APIURL())
	assert.Empty(t, client.SandboxURL())

	ctx := t.Context()
	for _, secure := range []bool{false, true} {
		sbx, err := client.Create(ctx, e2b.CreateOptions{Secure: secure})
		require.NoError(t, err)
		assert.Equal(t, "49999-"+sbx.ID()+".example.com", sbx.Host(e2b.InterpreterPort))
		exercise(t, ctx, sbx)
		killed, err := sbx.Kill(ctx)
		require.NoError(t, err)
		assert.True(t, killed)
		_, err = sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
		assert.ErrorIs(t, err, e2b.ErrSandboxNotFound, "routed by host to a sandbox that is gone")
	}

	hosts := map[string]int{}
	hostForm := regexp.MustCompile(`^(49983|49999)-i[0-9a-z]{20}\.example\.com$`)
	for _, r := range rec.requests() {
		host := strings.Fields(r)[0]
		switch {
		case host == "api.example.com":
			hosts["api"]++
		case hostForm.MatchString(host):
			hosts[host[:5]]++
		default:
			t.Errorf("unexpected host in %q", r)
		}
	}
	assert.Equal(t, 4, hosts["api"], "two creates, two kills")
	assert.Equal(t, 2*4, hosts["49999"], "health, run code, contexts, run code after the kill")
	assert.Equal(t, 2*5, hosts["49983"], "health, upload, download, stat, command")
}

func TestTrailingSlashOnURLsIsHarmless(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithRuntime(routingRuntime))
	rec := &recordingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	hc := &http.Client{Transport: rec}
	defer hc.CloseIdleConnections()
	client, err := e2b.NewClient(e2b.WithAPIKey(env.APIKey), e2b.WithAPIURL(env.URL+"/"), e2b.WithSandboxURL(env.URL+"/"), e2b.WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Equal(t, env.URL, client.APIURL())
	assert.Equal(t, env.URL, client.SandboxURL())
	ctx := t.Context()
	sbx, err := client.Create(ctx, e2b.CreateOptions{})
	require.NoError(t, err)
	exercise(t, ctx, sbx)
	for _, r := range rec.requests() {
		assert.NotContains(t, r, "//", r)
	}
}
