package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2bserver/localrt"
	"github.com/tta-dev/tta/internal/testenv"
)

func TestDoctorHealthyTemplate(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	r := runTTA(t, "", "doctor", "code-interpreter-v1")
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "tta: E2B_API_KEY not set; diagnosing on the embedded local sandbox server")
	assert.Contains(t, r.stdout, "template             code-interpreter-v1 on the embedded local sandbox server (interpreter wait 1m0s)\n")
	for _, step := range []string{"create       ok", "envd         ok", "interpreter  open    port 49999 after", "test run     ok      print(\"ok\") printed ok in", "kill         ok"} {
		assert.Contains(t, r.stdout, step)
	}
	assert.Contains(t, r.stdout, "healthy: template code-interpreter-v1 is ready to run code")
	assert.Regexp(t, `(?m)^isolation    (ok      confined: own root file system .+|weak    NOT confined .+)$`, r.stdout,
		"the isolation row agrees with what the sandbox saw")
}

func TestDoctorTemplateWithoutInterpreter(t *testing.T) {
	localOnly(t)
	r := runTTA(t, "", "doctor", "base", "--timeout", "1s")
	require.Equal(t, exitFailed, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "(interpreter wait 1s)")
	assert.Contains(t, r.stdout, "envd         ok")
	// Probes at 0 s and 0.5 s; the next would come at 1.5 s, after the window.
	assert.Contains(t, r.stdout, "interpreter  closed  port 49999 not open after")
	assert.Contains(t, r.stdout, ", 2 probes (wait 1s)")
	assert.NotContains(t, r.stdout, "test run")
	assert.Contains(t, r.stdout, "kill         ok")
	assert.NotContains(t, r.stdout, "healthy")
	assert.Regexp(t, `tta doctor: probe 1 at [0-9]+ms: port 49999 not open\n`, r.stderr, "plain progress lines off a terminal")
	assert.Contains(t, r.stderr, "tta doctor: template base is not healthy: its code interpreter never opened port 49999 (2 probes in")
	assert.Contains(t, r.stderr, "hint: base has no code interpreter, by design: use code-interpreter-v1")
}

func TestDoctorDrawsALiveLineOnATerminal(t *testing.T) {
	localOnly(t)
	var stdout, stderr testenv.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, tty: true}
	code := doctorCommand(t.Context(), c, []string{"--timeout", "1s", "base"})
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stderr.String(), "\r\x1b[Kwaiting for the code interpreter on port 49999: ")
	assert.Contains(t, stderr.String(), " of 1s")
	assert.NotContains(t, stderr.String(), "probe 1 at", "no plain progress lines on a terminal")
	assert.NotContains(t, stdout.String(), "\x1b[", "the report has no control sequences")
	assert.Contains(t, stderr.String(), "\r\x1b[Ktta doctor: template base is not healthy", "the line is erased before the verdict")
}

func TestDoctorTemplateWhoseSetupFails(t *testing.T) {
	localOnly(t)
	file := filepath.Join(t.TempDir(), "templates.json")
	require.NoError(t, writeFile(file, `{"templates": [{"name": "tta-ml-minimal",
		"setup": ["echo 'ERROR: No matching distribution found for torch' >&2; exit 1"]}]}`))
	r := runTTA(t, "", "doctor", "--templates", file, "--timeout", "2s", "tta-ml-minimal")
	require.Equal(t, exitFailed, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "interpreter  closed")
	assert.Contains(t, r.stdout, "ERROR: No matching distribution found for torch", "the setup log is shown")
	assert.Contains(t, r.stdout, "kill         ok")
	assert.Contains(t, r.stderr, "tta doctor: template tta-ml-minimal is not healthy: its code interpreter never opened port 49999")
	assert.Contains(t, r.stderr, "hint: check the template's start command")
	assert.Contains(t, r.stderr, "install packages at run time (tta.WithPackages, the runtime install fallback)")
}

func TestDoctorUnknownTemplate(t *testing.T) {
	localOnly(t)
	r := runTTA(t, "", "doctor", "no-such-template")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, "create       failed")
	assert.NotContains(t, r.stdout, "kill")
	assert.Contains(t, r.stderr, "template no-such-template is not healthy: it cannot be created")
	assert.Contains(t, r.stderr, "hint: the embedded server knows code-interpreter-v1, base and the templates of --templates FILE")
}

func TestDoctorKillsTheSandboxWhenInterrupted(t *testing.T) {
	localOnly(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout testenv.Buffer
	stderr := &cancelOn{marker: "probe 1 at", cancel: cancel}
	code := run(ctx, []string{"doctor", "base"}, strings.NewReader(""), &stdout, stderr)
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stdout.String(), "kill         ok")
	assert.Contains(t, stderr.String(), "tta doctor: interrupted")
}

func TestDoctorOnE2BWithoutAReachableServer(t *testing.T) {
	t.Setenv("E2B_API_KEY", "e2b_0123456789abcdef")
	t.Setenv("E2B_API_URL", "http://127.0.0.1:1") // nothing listens on port 1
	t.Setenv("E2B_SANDBOX_URL", "http://127.0.0.1:1")
	r := runTTA(t, "", "doctor", "base", "--templates", "ignored.json")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--templates applies to the embedded local server only; ignored because E2B_API_KEY is set")
	assert.NotContains(t, r.stderr, "embedded local sandbox server")
	assert.Contains(t, r.stdout, "template             base on http://127.0.0.1:1")
	assert.Contains(t, r.stderr, "tta doctor: creating a sandbox failed:")
	assert.Contains(t, r.stderr, "hint: the sandbox provider could not be reached")
}

// transientErr is an error that says whether trying again may help.
type transientErr bool

func (e transientErr) Error() string   { return "probe failed" }
func (e transientErr) Transient() bool { return bool(e) }

func TestProbeUntil(t *testing.T) {
	tests := []struct {
		name      string
		window    time.Duration
		results   []error // one per probe; nil succeeds; the last repeats
		ok        bool
		probes    int
		elapsed   time.Duration
		lastIsErr bool
	}{
		{"first probe succeeds", time.Minute, []error{nil}, true, 1, 0, false},
		{"third probe succeeds after 0.5 s and 1 s", time.Minute, []error{transientErr(true), transientErr(true), nil}, true, 3, 1500 * time.Millisecond, false},
		{"backoff caps at 5 s within the default window", 60 * time.Second, []error{transientErr(true)}, false, 15, 57500 * time.Millisecond, true},
		{"custom window of 120 s", 120 * time.Second, []error{transientErr(true)}, false, 27, 117500 * time.Millisecond, true},
		{"a terminal error stops at once", time.Minute, []error{transientErr(false)}, false, 1, 0, true},
		{"errors that say nothing are terminal", time.Minute, []error{errors.New("boom")}, false, 1, 0, true},
		{"no probe after the window", 2 * time.Second, []error{transientErr(true)}, false, 3, 1500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				var fails []int
				o := probeUntil(t.Context(), tt.window, func(ctx context.Context) error {
					err := tt.results[min(calls, len(tt.results)-1)]
					calls++
					return err
				}, func(n int, _ time.Duration, _ error) { fails = append(fails, n) })
				assert.Equal(t, tt.ok, o.ok)
				assert.Equal(t, tt.probes, o.probes)
				assert.Equal(t, tt.probes, calls)
				assert.Equal(t, tt.elapsed, o.elapsed)
				assert.Equal(t, tt.lastIsErr, o.last != nil)
				if tt.ok {
					assert.Len(t, fails, tt.probes-1)
				} else {
					assert.Len(t, fails, tt.probes)
				}
			})
		})
	}
}

func TestProbeUntilStopsWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		o := probeUntil(ctx, time.Minute, func(context.Context) error {
			return transientErr(true)
		}, func(n int, _ time.Duration, _ error) {
			if n == 2 {
				cancel()
			}
		})
		assert.False(t, o.ok)
		assert.Equal(t, 2, o.probes)
	})
}

func TestInfraHints(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&e2b.APIError{StatusCode: 401}, "check E2B_API_KEY"},
		{&e2b.APIError{StatusCode: 429}, "rate limiting"},
		{&e2b.APIError{StatusCode: 503}, "status.e2b.dev"},
		{&e2b.TransportError{Op: "create sandbox", Err: errors.New("connection refused")}, "could not be reached"},
		{errors.New("other"), "try again"},
	}
	for _, tt := range tests {
		assert.Contains(t, infraHint(tt.err), tt.want, tt.err.Error())
	}
}

func TestDoctorKillsTheSandboxOfACreateWhoseAnswerWasLost(t *testing.T) {
	rt, err := localrt.New(localrt.WithRoot(t.TempDir()))
	require.NoError(t, err)
	srv, err := e2bserver.New(e2bserver.WithRuntime(rt))
	require.NoError(t, err)
	// The server creates the sandbox, then the connection breaks before the
	// answer reaches the client.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/sandboxes") {
			srv.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer func() {
		ts.Close()
		require.NoError(t, srv.Close())
		require.NoError(t, rt.Close())
	}()
	client, err := e2b.NewClient(e2b.WithAPIKey("e2b_0123456789abcdef"), e2b.WithAPIURL(ts.URL), e2b.WithSandboxURL(ts.URL))
	require.NoError(t, err)
	defer client.CloseIdleConnections()

	var stdout, stderr testenv.Buffer
	d := &doctor{c: &cli{stdout: &stdout, stderr: &stderr}, client: client, where: "a test server", template: "base", window: time.Second}
	code := d.run(t.Context())
	assert.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Contains(t, stdout.String(), "create       failed")
	assert.Regexp(t, `kill         ok      sandbox \S+ \(created by the interrupted request\) killed`, stdout.String())
	assert.Empty(t, srv.Sandboxes(), "the sandbox the lost answer described is gone")
}
