package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/local"
)

// The tests of tta mcp run the program as a subprocess (the test binary, see
// TestMain) and talk to it with the MCP SDK's own client. The subprocess
// runs its sandboxes on a local server of the test's own, named by the E2B_*
// variables as E2B would be, so that the test counts the sandboxes.

// mcpBackend is the test's sandbox server.
type mcpBackend struct {
	srv *local.Server
}

// startMCPBackend starts the server; when the test ends no sandbox may be
// left on it.
func startMCPBackend(t *testing.T) *mcpBackend {
	t.Helper()
	testenv.RequireLocalTools(t, "python3")
	srv, err := local.Start(local.WithRoot(t.TempDir()))
	require.NoError(t, err)
	b := &mcpBackend{srv: srv}
	t.Cleanup(func() {
		assert.Empty(t, b.live(), "sandboxes left running")
		_, err := srv.Close()
		assert.NoError(t, err)
	})
	return b
}

// live returns the IDs of the sandboxes the server runs.
func (b *mcpBackend) live() []string {
	var ids []string
	for _, sb := range b.srv.Handler().Sandboxes() {
		ids = append(ids, sb.SandboxID)
	}
	return ids
}

// command returns the program as a subprocess with args, on b.
func (b *mcpBackend) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1",
		e2b.EnvAPIKey+"="+b.srv.APIKey(), e2b.EnvAPIURL+"="+b.srv.URL(), e2b.EnvSandboxURL+"="+b.srv.URL(),
		envMCPToken+"=")
	cmd.Stderr = &testWriter{t: t}
	return cmd
}

// testWriter logs the subprocess's standard error.
type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("tta mcp: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// progressLog collects the progress messages a client receives.
type progressLog struct {
	mu   sync.Mutex
	msgs []string
	seen chan string // every message, when not nil; never blocks
}

func (p *progressLog) handle(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, req.Params.Message)
	select {
	case p.seen <- req.Params.Message:
	default:
	}
}

func (p *progressLog) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// newMCPClient returns a client whose progress notifications go to log.
func newMCPClient(log *progressLog) *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "tta-test", Version: "v0"}, &mcp.ClientOptions{ProgressNotificationHandler: log.handle})
}

// connectStdio starts tta mcp and connects to it over stdio. The returned
// command is the subprocess.
func connectStdio(t *testing.T, b *mcpBackend, log *progressLog) (*mcp.ClientSession, *exec.Cmd) {
	t.Helper()
	cmd := b.command(t, "mcp")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := newMCPClient(log).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs, cmd
}

// httpServer is tta mcp --http running as a subprocess.
type httpServer struct {
	cmd   *exec.Cmd
	url   string
	token string
}

// startHTTP starts tta mcp --http on a free loopback port and reads the URL
// and token it prints.
func startHTTP(t *testing.T, b *mcpBackend) *httpServer {
	t.Helper()
	cmd := b.command(t, "mcp", "--http", ":0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	s := &httpServer{cmd: cmd}
	sc := bufio.NewScanner(stdout)
	for (s.url == "" || s.token == "") && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "TTA_MCP_URL":
			s.url = v
		case envMCPToken:
			s.token = v
		}
	}
	require.NotEmpty(t, s.url, "tta mcp printed its URL")
	require.True(t, strings.HasPrefix(s.url, "http://127.0.0.1:"), "loopback by default: %s", s.url)
	require.NotEmpty(t, s.token, "tta mcp printed a generated token")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return s
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// connect connects a client with token.
func (s *httpServer) connect(t *testing.T, token string, log *progressLog) (*mcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	cs, err := newMCPClient(log).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

// call calls a tool, bounded by 60 s.
func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	params.SetProgressToken("p-" + name)
	res, err := cs.CallTool(ctx, params)
	require.NoError(t, err, "a tool call is never a protocol error")
	return res
}

// text joins the text content of res.
func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n\n")
}

// pngCode displays a one-pixel PNG.
const pngCode = `import base64
class P:
    def _repr_png_(self):
        return base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
P()`

// exerciseTools runs every tool through cs, bad input included, and checks
// that no sandbox is left running.
func exerciseTools(t *testing.T, cs *mcp.ClientSession, b *mcpBackend, log *progressLog) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	list, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
		schema, _ := json.Marshal(tl.InputSchema)
		assert.Contains(t, string(schema), `"type":"object"`, tl.Name)
	}
	assert.Equal(t, []string{"files_list", "files_read", "files_write", "run_code", "run_command", "session_close", "session_open", "session_run"}, slices.Sorted(slices.Values(names)))

	res := call(t, cs, "run_code", map[string]any{"code": "print('hi')\n6*7"})
	require.False(t, res.IsError, text(res))
	assert.Equal(t, "stdout:\nhi\n\n\nresult:\n42", text(res))
	assert.Contains(t, log.all(), "starting a sandbox", "progress while the sandbox starts")
	assert.Contains(t, log.all(), "stdout: hi\n", "progress as output streams")

	res = call(t, cs, "run_code", map[string]any{"code": "1/0"})
	assert.True(t, res.IsError, "the code's error is a tool error")
	assert.Contains(t, text(res), "error: ZeroDivisionError: division by zero\ntraceback:")

	res = call(t, cs, "session_open", map[string]any{})
	require.False(t, res.IsError, text(res))
	id, _, _ := strings.Cut(strings.TrimPrefix(text(res), "session_id: "), "\n")
	res = call(t, cs, "session_run", map[string]any{"session_id": id, "code": "x = 40"})
	require.False(t, res.IsError, text(res))
	res = call(t, cs, "session_run", map[string]any{"session_id": id, "code": "x + 2"})
	assert.Equal(t, "result:\n42", text(res), "the session keeps its state")
	res = call(t, cs, "files_write", map[string]any{"session_id": id, "path": "notes/a.txt", "content": "abc"})
	require.False(t, res.IsError, text(res))
	res = call(t, cs, "files_read", map[string]any{"session_id": id, "path": "notes/a.txt"})
	assert.Equal(t, "abc", text(res))
	res = call(t, cs, "files_list", map[string]any{"session_id": id, "path": "notes"})
	assert.Equal(t, "a.txt\t3 bytes", text(res))
	res = call(t, cs, "run_command", map[string]any{"session_id": id, "command": "wc -c < notes/a.txt"})
	assert.Equal(t, "exit status 0\n\nstdout:\n3\n", text(res))
	assert.Len(t, b.live(), 1, "the session's sandbox")
	res = call(t, cs, "session_close", map[string]any{"session_id": id})
	require.False(t, res.IsError, text(res))
	assert.Empty(t, b.live(), "session_close killed the sandbox")

	res = call(t, cs, "run_code", map[string]any{"code": pngCode})
	require.False(t, res.IsError, text(res))
	var img *mcp.ImageContent
	for _, c := range res.Content {
		if ic, ok := c.(*mcp.ImageContent); ok {
			img = ic
		}
	}
	require.NotNil(t, img, "a PNG result is image content")
	assert.Equal(t, "image/png", img.MIMEType)
	assert.Equal(t, "\x89PNG\r\n\x1a\n", string(img.Data[:8]))

	// Bad input: tool errors, and the server keeps serving.
	res = call(t, cs, "no_such_tool", map[string]any{})
	assert.True(t, res.IsError)
	assert.Contains(t, text(res), `unknown tool "no_such_tool"; the tools are run_code, session_open`)
	res = call(t, cs, "run_code", map[string]any{"code": 12})
	assert.True(t, res.IsError)
	assert.Contains(t, text(res), `argument "code" must be a string, not a JSON number`)
	res = call(t, cs, "run_code", map[string]any{"code": strings.Repeat("#", 2<<20)})
	assert.True(t, res.IsError)
	assert.Contains(t, text(res), "the code is 2097152 bytes, more than the limit of 1048576")
	res = call(t, cs, "run_code", map[string]any{"code": "len('still serving')"})
	assert.Equal(t, "result:\n13", text(res))
	assert.Empty(t, b.live())
}

// cancelMidRun starts a long run, waits for its first output, cancels it and
// checks that its sandbox is killed.
func cancelMidRun(t *testing.T, cs *mcp.ClientSession, b *mcpBackend, log *progressLog) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := startLongRun(ctx, cs)
	waitForOutput(t, log)
	assert.Len(t, b.live(), 1)
	cancel()
	assert.Error(t, <-errc)
	require.Eventually(t, func() bool { return len(b.live()) == 0 }, 20*time.Second, 50*time.Millisecond,
		"the cancelled call's sandbox is killed")
}

// startLongRun calls run_code with code that prints "started" and sleeps a
// minute; the call's error comes on the channel.
func startLongRun(ctx context.Context, cs *mcp.ClientSession) <-chan error {
	errc := make(chan error, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"code": "import time\nprint('started', flush=True)\ntime.sleep(60)"}}
		params.SetProgressToken("long")
		_, err := cs.CallTool(ctx, params)
		errc <- err
	}()
	return errc
}

// waitForOutput waits for the progress message of startLongRun's output.
func waitForOutput(t *testing.T, log *progressLog) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-log.seen:
			if strings.HasPrefix(m, "stdout: started") {
				return
			}
		case <-timeout:
			t.Fatalf("no output from the long run; progress: %q", log.all())
		}
	}
}

func TestMCPOverStdio(t *testing.T) {
	b := startMCPBackend(t)
	log := &progressLog{seen: make(chan string, 64)}
	cs, _ := connectStdio(t, b, log)
	exerciseTools(t, cs, b, log)
	cancelMidRun(t, cs, b, log)
}

func TestMCPOverHTTP(t *testing.T) {
	b := startMCPBackend(t)
	s := startHTTP(t, b)
	log := &progressLog{seen: make(chan string, 64)}
	cs, err := s.connect(t, s.token, log)
	require.NoError(t, err)
	exerciseTools(t, cs, b, log)
	cancelMidRun(t, cs, b, log)
}

func TestMCPOverHTTPRejectsAWrongToken(t *testing.T) {
	b := startMCPBackend(t)
	s := startHTTP(t, b)
	_, err := s.connect(t, "tta_wrong", &progressLog{})
	require.Error(t, err)

	for _, auth := range []string{"", "Bearer tta_wrong", "Basic " + s.token, "Bearer " + s.token + "x"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, auth)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
		assert.NotContains(t, string(body), s.token, "the answer does not give the token away")
	}
	assert.Empty(t, b.live())
}

// A client that goes away without a word (it crashed, its machine slept)
// drops its connections: over stdio the server's input ends, over HTTP its
// streams break. Its calls are cancelled and its sandboxes killed.
func TestMCPClientDisconnectingMidRunKillsItsSandboxes(t *testing.T) {
	for _, transport := range []string{"stdio", "http"} {
		t.Run(transport, func(t *testing.T) {
			b := startMCPBackend(t)
			log := &progressLog{seen: make(chan string, 64)}
			var cs *mcp.ClientSession
			var drop func()
			var cmd *exec.Cmd
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if transport == "stdio" {
				cmd = b.command(t, "mcp")
				stdin, err := cmd.StdinPipe()
				require.NoError(t, err)
				stdout, err := cmd.StdoutPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				cs, err = newMCPClient(log).Connect(ctx, &mcp.IOTransport{Reader: stdout, Writer: stdin}, nil)
				require.NoError(t, err)
				drop = func() { _ = stdin.Close() }
			} else {
				s := startHTTP(t, b)
				var conns connTracker
				hc := &http.Client{Transport: bearer{token: s.token, next: &http.Transport{DialContext: conns.dial}}}
				var err error
				cs, err = newMCPClient(log).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.url, HTTPClient: hc, MaxRetries: -1}, nil)
				require.NoError(t, err)
				drop = conns.closeAll
			}
			res := call(t, cs, "session_open", map[string]any{})
			require.False(t, res.IsError, text(res))
			errc := startLongRun(t.Context(), cs)
			waitForOutput(t, log)
			assert.Len(t, b.live(), 2, "the session's sandbox and the run's")
			drop()
			require.Eventually(t, func() bool { return len(b.live()) == 0 }, 20*time.Second, 50*time.Millisecond,
				"the client's sandboxes are killed when it disconnects")
			if cmd != nil {
				require.NoError(t, cmd.Wait(), "tta mcp over stdio exits when its client goes")
			}
			_ = cs.Close()
			<-errc
		})
	}
}

// connTracker dials TCP connections and closes them all on demand.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

func (c *connTracker) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}

func TestMCPSignalKillsEverySandbox(t *testing.T) {
	b := startMCPBackend(t)
	s := startHTTP(t, b)
	log := &progressLog{seen: make(chan string, 64)}
	cs, err := s.connect(t, s.token, log)
	require.NoError(t, err)
	res := call(t, cs, "session_open", map[string]any{})
	require.False(t, res.IsError, text(res))
	errc := startLongRun(t.Context(), cs)
	waitForOutput(t, log)
	assert.Len(t, b.live(), 2)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	err = s.cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit status: %v", err)
	assert.Equal(t, exitInterrupted, exit.ExitCode())
	assert.Empty(t, b.live(), "every sandbox killed before tta mcp exits")
	<-errc
}

func TestMCPUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mcp", "extra"}, `unexpected argument "extra"`},
		{[]string{"mcp", "--idle-timeout", "0s"}, "--idle-timeout must be > 0"},
		{[]string{"mcp", "--max-sessions", "0"}, "--max-sessions must be > 0"},
		{[]string{"mcp", "--http", "8080"}, `--http: want HOST:PORT or :PORT, got "8080"`},
		{[]string{"mcp", "--template", ""}, "--template must not be empty"},
	} {
		r := runTTA(t, "", c.args...)
		assert.Equal(t, exitUsage, r.code, c.args)
		assert.Contains(t, r.stderr, c.want, c.args)
	}
	r := runTTA(t, "", "mcp", "--help")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, `{"mcpServers": {"tta": {"command": "tta", "args": ["mcp"]}}}`)
}

func TestListenAddrDefaultsToLoopback(t *testing.T) {
	for in, want := range map[string]string{":8080": "127.0.0.1:8080", "[::1]:0": "[::1]:0", "0.0.0.0:9": "0.0.0.0:9"} {
		got, err := listenAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}
