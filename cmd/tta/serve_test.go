package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/internal/testenv"
)

// served is a `tta serve` running in-process.
type served struct {
	exports map[string]string // what it printed: E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY
	stderr  *testenv.Buffer
	stop    context.CancelFunc
	exit    chan int
}

// startServe runs `tta serve args...` until the test calls stop (or ends) and
// returns once it has printed its three export lines.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &served{exports: map[string]string{}, stderr: &testenv.Buffer{}, stop: cancel, exit: make(chan int, 1)}
	go func() {
		s.exit <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), pw, s.stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		pr.Close()
	})
	lines := bufio.NewScanner(pr)
	for len(s.exports) < 3 && lines.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(lines.Text(), "export "), "=")
		require.True(t, ok, "stdout line %q", lines.Text())
		s.exports[k] = v
	}
	require.Len(t, s.exports, 3, "tta serve exited early: %s", s.stderr.String())
	// Nothing else is written to stdout; keep draining so no write blocks.
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return s
}

// client returns an e2b client configured from the printed exports.
func (s *served) client(t *testing.T) *e2b.Client {
	t.Helper()
	c, err := e2b.NewClient(
		e2b.WithAPIKey(s.exports["E2B_API_KEY"]),
		e2b.WithAPIURL(s.exports["E2B_API_URL"]),
		e2b.WithSandboxURL(s.exports["E2B_SANDBOX_URL"]),
	)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// shutdown cancels the command's context, as SIGINT does, and returns its
// exit status.
func (s *served) shutdown(t *testing.T) int {
	t.Helper()
	s.stop()
	select {
	case code := <-s.exit:
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("tta serve did not stop within 20 s")
		return -1
	}
}

func TestServePrintsExportsAndAGeneratedKey(t *testing.T) {
	t.Setenv("TTA_SERVE_API_KEY", "")
	root := t.TempDir()
	s := startServe(t, "--addr", "127.0.0.1:0", "--root", root)

	url := s.exports["E2B_API_URL"]
	assert.Regexp(t, regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`), url, "loopback, no trailing slash")
	assert.Equal(t, url, s.exports["E2B_SANDBOX_URL"])
	assert.Regexp(t, regexp.MustCompile(`^e2b_[0-9a-f]{40}$`), s.exports["E2B_API_KEY"])
	assert.Contains(t, s.stderr.String(), "tta serve: generated an API key")
	assert.NotContains(t, s.stderr.String(), s.exports["E2B_API_KEY"], "the key is shown once, on stdout")
	assert.NotContains(t, s.stderr.String(), "warning")

	// The key is required.
	wrong, err := e2b.NewClient(e2b.WithAPIKey("e2b_00"), e2b.WithAPIURL(url), e2b.WithSandboxURL(url))
	require.NoError(t, err)
	_, err = wrong.List(t.Context(), e2b.ListOptions{})
	assert.ErrorIs(t, err, e2b.ErrUnauthorized)
	wrong.CloseIdleConnections()

	// Sandboxes still running at shutdown are killed.
	client := s.client(t)
	tmpl := e2b.BaseTemplate
	if _, err := exec.LookPath("python3"); err == nil {
		tmpl = e2b.DefaultTemplate // also starts a Python kernel process
	}
	for range 2 {
		_, err := client.Create(t.Context(), e2b.CreateOptions{Template: tmpl, Timeout: time.Minute})
		require.NoError(t, err)
	}
	client.CloseIdleConnections()
	assert.Equal(t, exitOK, s.shutdown(t))
	assert.Contains(t, s.stderr.String(), "tta serve: stopped; killed 2 sandboxes")
	testenv.AssertNoSandboxDirs(t, root)
	_, err = client.List(t.Context(), e2b.ListOptions{})
	assert.Error(t, err, "the server no longer listens")
	client.CloseIdleConnections()
}

func TestServeRunsCodeForClients(t *testing.T) {
	testenv.RequireTools(t, "python3")
	root := t.TempDir()
	s := startServe(t, "--addr", "127.0.0.1:0", "--root", root, "--api-key", "e2b_0123456789abcdef")
	assert.Equal(t, "e2b_0123456789abcdef", s.exports["E2B_API_KEY"])
	assert.NotContains(t, s.stderr.String(), "generated")

	client := s.client(t)
	sbx, err := client.Create(t.Context(), e2b.CreateOptions{Timeout: time.Minute})
	require.NoError(t, err)
	exec, err := sbx.RunCode(t.Context(), "print('hi'); 6 * 7", e2b.RunCodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"hi\n"}, exec.Logs.Stdout)
	assert.Equal(t, "42", exec.Text())
	killed, err := sbx.Kill(t.Context())
	require.NoError(t, err)
	assert.True(t, killed)
	client.CloseIdleConnections()

	assert.Equal(t, exitOK, s.shutdown(t))
	assert.Contains(t, s.stderr.String(), "killed 0 sandboxes")
	testenv.AssertNoSandboxDirs(t, root)
}

func TestServeKeyFromEnvironmentAndTemplates(t *testing.T) {
	t.Setenv("TTA_SERVE_API_KEY", "e2b_abcdef0123")
	dir := t.TempDir()
	file := dir + "/templates.json"
	require.NoError(t, writeFile(file, `{"templates": [{"name": "broken", "setup": ["exit 3"]}]}`))
	s := startServe(t, "--addr", "127.0.0.1:0", "--root", t.TempDir(), "--templates", file)
	assert.Equal(t, "e2b_abcdef0123", s.exports["E2B_API_KEY"])
	assert.Contains(t, s.stderr.String(), "tta serve: template broken (id local-broken, 1 setup commands)")

	client := s.client(t)
	sbx, err := client.Create(t.Context(), e2b.CreateOptions{Template: "broken", Timeout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, "local-broken", sbx.TemplateID())
	client.CloseIdleConnections()
	assert.Equal(t, exitOK, s.shutdown(t))
	assert.Contains(t, s.stderr.String(), "killed 1 sandbox\n")
}

func TestServeFailsWhenTheAddressIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := runTTA(t, "", "serve", "--addr", ln.Addr().String(), "--root", t.TempDir())
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "address already in use")
	assert.Empty(t, r.stdout, "no exports for a server that is not serving")
}

func TestServeWarnsWhenNotOnLoopback(t *testing.T) {
	s := startServe(t, "--addr", "0.0.0.0:0", "--root", t.TempDir(), "--api-key", "e2b_0123456789abcdef")
	assert.Regexp(t, regexp.MustCompile(`^http://(127\.0\.0\.1|\[::1\]):[0-9]+$`), s.exports["E2B_API_URL"], "this machine dials loopback")
	assert.Regexp(t, `tta serve: warning: listening on \S+, which is not a loopback address`, s.stderr.String())
	assert.Equal(t, exitOK, s.shutdown(t))
}

func TestServeLimitsFromFlags(t *testing.T) {
	s := startServe(t, "--addr", "127.0.0.1:0", "--root", t.TempDir(), "--open-files", "300", "--memory", "1.5G", "--disk", "0")
	line := s.stderr.String()
	if strings.Contains(line, "isolation: confined") {
		assert.Contains(t, line, "300 open files", "the limits in force")
		assert.NotContains(t, line, "disk", "--disk 0 removes the disk limit")
		if os.Geteuid() == 0 {
			assert.Contains(t, line, "memory 1536 MiB")
		}
	}
	assert.Equal(t, exitOK, s.shutdown(t))

	for _, bad := range [][]string{{"--memory", "lots"}, {"--cpus", "-1"}, {"--disk", "-2G"}} {
		r := runTTA(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--root", t.TempDir()}, bad...)...)
		assert.Equal(t, exitUsage, r.code, "%v", bad)
		assert.Empty(t, r.stdout, "%v: no exports", bad)
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"512M": 512 << 20, "2G": 2 << 30, "1.5g": 3 << 29, "100": 100, "64KiB": 64 << 10, "1GB": 1 << 30} {
		var s sizeFlag
		require.NoError(t, s.Set(in), in)
		assert.Equal(t, want, int64(s), in)
	}
	var s sizeFlag
	assert.ErrorContains(t, s.Set("a lot"), "not a size")
	assert.ErrorContains(t, s.Set("-1M"), "not a size")
	assert.Equal(t, "2G", (&[]sizeFlag{2 << 30}[0]).String())
}
