package local_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/local"
)

// start starts a local server with sandbox directories under a fresh
// temporary directory, closed when the test ends.
func start(t *testing.T, opts ...local.Option) *local.Server {
	t.Helper()
	s, err := local.Start(append([]local.Option{local.WithRoot(t.TempDir())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := s.Close()
		assert.NoError(t, err)
	})
	return s
}

// client returns a client of s whose connections are closed when the test
// ends.
func client(t *testing.T, s *local.Server, opts ...e2b.Option) *e2b.Client {
	t.Helper()
	c, err := s.Client(opts...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// listStatus sends GET /sandboxes with key as X-API-Key ("" sends none) and
// returns the status.
func listStatus(t *testing.T, s *local.Server, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/sandboxes", nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set(wire.HeaderAPIKey, key)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestStartListensOnLoopbackWithAGeneratedKey(t *testing.T) {
	s := start(t)
	assert.Regexp(t, regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`), s.URL(), "loopback, no trailing slash")
	assert.True(t, s.Loopback())
	tcp, ok := s.Addr().(*net.TCPAddr)
	require.True(t, ok)
	assert.True(t, tcp.IP.IsLoopback(), "bound to %v", tcp.IP)
	assert.NotZero(t, tcp.Port, "a free port was picked")
	assert.Equal(t, "http://"+s.Addr().String(), s.URL())
	assert.Regexp(t, regexp.MustCompile(`^e2b_[0-9a-f]{40}$`), s.APIKey())
	assert.Regexp(t, `^(confined: own root file system and namespaces .+|NOT confined \(.+\): .+)$`, s.Isolation())

	other := start(t)
	assert.NotEqual(t, s.APIKey(), other.APIKey(), "each server generates its own key")
	assert.NotEqual(t, s.URL(), other.URL())
}

func TestServerRequiresItsKey(t *testing.T) {
	s := start(t, local.WithAPIKey("e2b_0123456789abcdef"))
	assert.Equal(t, "e2b_0123456789abcdef", s.APIKey())

	assert.Equal(t, http.StatusUnauthorized, listStatus(t, s, ""), "no key")
	assert.Equal(t, http.StatusUnauthorized, listStatus(t, s, "e2b_00"), "another key")
	assert.Equal(t, http.StatusOK, listStatus(t, s, s.APIKey()))

	_, err := client(t, s, e2b.WithAPIKey("e2b_00")).List(t.Context(), e2b.ListOptions{})
	assert.ErrorIs(t, err, e2b.ErrUnauthorized, "an option given to Client wins over the server's key")
	page, err := client(t, s).List(t.Context(), e2b.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, page.Sandboxes)
}

func TestStartOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []local.Option
		wantErr error  // matched with errors.Is
		errText string // contained in the error
	}{
		{name: "key not in E2B's format", opts: []local.Option{local.WithAPIKey("secret-key")}, wantErr: e2b.ErrInvalidAPIKey, errText: "local: WithAPIKey"},
		{name: "key without digits", opts: []local.Option{local.WithAPIKey("e2b_")}, wantErr: e2b.ErrInvalidAPIKey},
		{name: "nil option", opts: []local.Option{nil}, errText: "local: nil Option"},
		{name: "address that cannot be parsed", opts: []local.Option{local.WithAddr("no-port")}, errText: "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			s, err := local.Start(append([]local.Option{local.WithRoot(root)}, tt.opts...)...)
			require.Error(t, err)
			assert.Nil(t, s)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Contains(t, err.Error(), tt.errText)
			assert.NotContains(t, err.Error(), "secret-key", "the key is never in errors")
		})
	}
}

func TestStartFailsOnAnAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	root := filepath.Join(t.TempDir(), "root")
	s, err := local.Start(local.WithAddr(ln.Addr().String()), local.WithRoot(root))
	require.Error(t, err)
	assert.Nil(t, s)
	assert.Contains(t, err.Error(), "address already in use")
	testenv.AssertNoSandboxDirs(t, root)
}

func TestStartOnEveryInterfaceNeedsAnExplicitAddress(t *testing.T) {
	s := start(t, local.WithAddr("0.0.0.0:0"))
	assert.False(t, s.Loopback(), "reachable from other machines")
	assert.True(t, s.Addr().(*net.TCPAddr).IP.IsUnspecified())
	assert.Regexp(t, regexp.MustCompile(`^http://(127\.0\.0\.1|\[::1\]):[0-9]+$`), s.URL(), "this machine dials loopback")
	assert.Equal(t, http.StatusOK, listStatus(t, s, s.APIKey()))
}

func TestWithTemplatesRegistersThem(t *testing.T) {
	s := start(t, local.WithTemplates(local.Template{Name: "tta-envd-only", NoInterpreter: true, EnvVars: map[string]string{"TTA_MARK": "set"}}))
	sbx, err := client(t, s).Create(t.Context(), e2b.CreateOptions{Template: "tta-envd-only", Timeout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, "local-tta-envd-only", sbx.TemplateID())
	res, err := sbx.RunCommand(t.Context(), "echo $TTA_MARK", e2b.CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, "set\n", res.Stdout)
}

func TestWithoutIsolation(t *testing.T) {
	s := start(t, local.WithoutIsolation())
	assert.Equal(t, "NOT confined (disabled by WithoutIsolation): sandbox code runs on the host as the server's user, with its files and network", s.Isolation())
}

func TestWithLimitsReachTheSandboxes(t *testing.T) {
	s := start(t, local.WithLimits(local.Limits{OpenFiles: 100, FileSize: 1 << 20}))
	assert.Contains(t, s.Isolation(), "files of 1 MiB, 100 open files", "the limits in force")
	_, err := local.Start(local.WithLimits(local.Limits{Memory: -1}))
	assert.ErrorContains(t, err, "negative limit")
}

func TestWithClientOptionsApplyToEveryClient(t *testing.T) {
	var requests countingTransport
	s := start(t, local.WithClientOptions(e2b.WithHTTPClient(&http.Client{Transport: &requests})))
	_, err := client(t, s).List(t.Context(), e2b.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, requests.n, "the server's client options were used")
	requests.inner.CloseIdleConnections()
}

// countingTransport counts the requests it sends; it is used by one goroutine
// at a time.
type countingTransport struct {
	n     int
	inner http.Transport
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return c.inner.RoundTrip(r)
}

func TestCloseKillsEverySandboxAndLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s, err := local.Start(local.WithRoot(root))
	require.NoError(t, err)
	c := client(t, s)
	sbxs := make([]*e2b.Sandbox, 2)
	for i := range sbxs {
		// base: envd only, so no python3 is needed.
		sbxs[i], err = c.Create(t.Context(), e2b.CreateOptions{Template: e2b.BaseTemplate, Timeout: time.Minute})
		require.NoError(t, err)
	}
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "one directory a sandbox")

	// A process that would run for a day, recognised on the host by its
	// arguments: the shell running the command has the marker in its own
	// from the start, and the sleep once it has started.
	marker := fmt.Sprintf("86399.%06d", rand.IntN(1_000_000))
	up := make(chan struct{})
	ran := make(chan error, 1)
	go func() {
		var once bool
		_, err := sbxs[0].RunCommand(context.Background(), "sleep "+marker+" & echo up; wait", e2b.CommandOptions{
			Timeout: time.Hour,
			OnStdout: func(string) {
				if !once {
					once = true
					close(up)
				}
			},
		})
		ran <- err
	}()
	select {
	case <-up:
	case err := <-ran:
		t.Fatalf("the command ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not start within 20 s")
	}
	pids := processesWithArg(t, marker)
	require.NotEmpty(t, pids, "the command runs on this machine")

	killed, err := s.Close()
	require.NoError(t, err)
	assert.Equal(t, 2, killed)
	assert.Error(t, <-ran, "the command was killed")
	for _, pid := range pids {
		assert.True(t, testenv.ProcessExited(t, pid, 5*time.Second), "process %d of the sandbox is gone", pid)
	}
	assert.Empty(t, processesWithArg(t, marker), "no process of the sandbox is left")
	assert.Empty(t, s.Handler().Sandboxes())
	testenv.AssertNoSandboxDirs(t, root)
	select {
	case <-s.Done():
	default:
		t.Error("Done is not closed after Close")
	}
	_, err = c.List(t.Context(), e2b.ListOptions{})
	assert.Error(t, err, "the server no longer listens")

	killed, err = s.Close()
	assert.NoError(t, err, "Close is idempotent")
	assert.Zero(t, killed)
}

// processesWithArg returns the processes of this machine one of whose
// arguments contains arg.
func processesWithArg(t *testing.T, arg string) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		for a := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Contains(a, []byte(arg)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func TestWithLoggerRejectsNil(t *testing.T) {
	_, err := local.Start(local.WithLogger(nil))
	assert.ErrorContains(t, err, "nil logger")
}
