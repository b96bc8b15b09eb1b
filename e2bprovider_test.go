package tta_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
)

// startE2BExec starts the E2B-compatible server in memory with rt and returns
// a primitive on it, closed when the test ends, and the server.
func startE2BExec(t *testing.T, rt *e2bserver.ScriptedRuntime, opts ...tta.Option) (*tta.CodeExecutionPrimitive, *e2btest.Env) {
	t.Helper()
	env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
	return testenv.ServerExec(t, env, opts...), env
}

// Package e2b does not import tta, yet its errors classify themselves
// through tta's interfaces.
var (
	_ tta.TransientError  = (*e2b.APIError)(nil)
	_ tta.RetryAfterError = (*e2b.APIError)(nil)
	_ tta.TransientError  = (*e2b.TransportError)(nil)
)

func TestE2BProvider_FromEnvironment(t *testing.T) {
	t.Setenv("E2B_API_KEY", "e2b_0123456789abcdef0123456789abcdef01234567")
	exec, err := tta.NewCodeExecution()
	require.NoError(t, err, "E2B configured from E2B_API_KEY, no request made")
	require.NoError(t, exec.Close())

	t.Setenv("E2B_API_KEY", "not-a-key")
	_, err = tta.NewCodeExecution()
	require.ErrorIs(t, err, e2b.ErrInvalidAPIKey)
	assert.NotContains(t, err.Error(), "not-a-key")

	t.Setenv("E2B_API_KEY", "")
	_, err = tta.NewCodeExecution()
	require.ErrorIs(t, err, tta.ErrNoProvider)
	assert.Contains(t, err.Error(), "E2B_API_KEY")
}

func TestE2BProvider_Panics(t *testing.T) {
	assert.PanicsWithValue(t, "tta: WithE2BClient: client is nil; pass a client made by e2b.NewClient, or omit the option to use E2B_API_KEY",
		func() { tta.WithE2BClient(nil) })
	assert.PanicsWithValue(t, "tta: NewE2BProvider: client is nil; pass a client made by e2b.NewClient",
		func() { tta.NewE2BProvider(nil) })
}

func TestE2BProvider_RichResultsAndLanguage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var langs []string
		rt := &e2bserver.ScriptedRuntime{Exec: func(ctx context.Context, cell *e2bserver.Cell) error {
			mu.Lock()
			langs = append(langs, cell.Language)
			mu.Unlock()
			if err := cell.Stdout("plotting\n"); err != nil {
				return err
			}
			return cell.Emit(wire.ExecutionEvent{Type: wire.EventResult, IsMainResult: true, Text: "<Figure>",
				HTML: "<img>", PNG: "iVBORw0KGgo=", JSON: map[string]any{"n": 1.0}, Chart: map[string]any{"type": "line"},
				Extra: map[string]any{"text/x-note": "hi", "application/vnd.plotly.v1+json": map[string]any{"data": []any{1.0}}}})
		}}
		exec, _ := startE2BExec(t, rt)
		var streamed []string
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "plot()", Language: tta.LanguageJavaScript,
			OnStdout: func(s string) { streamed = append(streamed, s) }})
		require.NoError(t, err)
		assert.Equal(t, "plotting\n", out.Stdout)
		assert.Equal(t, []string{"plotting\n"}, streamed)
		require.Len(t, out.Results, 1)
		r := out.Results[0]
		assert.True(t, r.IsMain)
		assert.Equal(t, "<Figure>", r.Text)
		assert.Equal(t, map[string]string{
			"text/html":                      "<img>",
			"image/png":                      "iVBORw0KGgo=",
			"application/json":               `{"n":1}`,
			"application/vnd.e2b.chart+json": `{"type":"line"}`,
			"text/x-note":                    "hi",
			"application/vnd.plotly.v1+json": `{"data":[1]}`,
		}, r.Data)
		assert.Equal(t, []string{"javascript"}, langs)
	})
}

func TestE2BProvider_SessionAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &e2bserver.ScriptedRuntime{Exec: func(ctx context.Context, cell *e2bserver.Cell) error {
			n, _ := cell.State["n"].(int)
			cell.State["n"] = n + 1
			return cell.Result(string(rune('0' + n + 1)))
		}}
		exec, env := startE2BExec(t, rt)
		s, err := exec.NewSession(context.Background())
		require.NoError(t, err)
		for i := 1; i <= 3; i++ {
			out, err := s.Execute(context.Background(), tta.CodeInput{Code: "n += 1; n"})
			require.NoError(t, err)
			require.Len(t, out.Results, 1)
			assert.Equal(t, string(rune('0'+i)), out.Results[0].Text, "state kept in the session's context")
			assert.Equal(t, i, out.ExecutionCount)
		}
		require.True(t, env.Server.Expire(s.SandboxID()))
		_, err = s.Execute(context.Background(), tta.CodeInput{Code: "n"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		require.ErrorIs(t, err, e2b.ErrSandboxNotFound)
		assert.False(t, tta.IsTransient(err))
		assert.Len(t, env.Server.Sandboxes(), 0)
		require.NoError(t, s.Close(), "killing a gone sandbox is not an error")
	})
}

func TestE2BProvider_PipInstall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var lines []string
		rt := &e2bserver.ScriptedRuntime{Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
			mu.Lock()
			lines = append(lines, cmd.Line)
			mu.Unlock()
			if err := cmd.Sleep(3 * time.Minute); err != nil { // longer than package e2b's default command timeout
				return 0, err
			}
			return 0, cmd.Stdout("Successfully installed torch\n")
		}}
		exec, _ := startE2BExec(t, rt, tta.WithPackages("torch"))
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "import torch"})
		require.NoError(t, err)
		assert.Equal(t, []string{"torch"}, out.Installed)
		assert.Equal(t, []string{"pip install --quiet --disable-pip-version-check 'torch'"}, lines)
	})
	synctest.Test(t, func(t *testing.T) {
		rt := &e2bserver.ScriptedRuntime{Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
			return 1, cmd.Stderr("ERROR: No matching distribution found for torchh\n")
		}}
		exec, _ := startE2BExec(t, rt, tta.WithPackages("torchh"))
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "import torch"})
		var ie *tta.InstallError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, 1, ie.ExitCode)
		assert.Contains(t, ie.Stderr, "No matching distribution")
	})
}

// A create whose answer is lost may still have made a sandbox: the provider
// looks for it by its label and kills it.
func TestE2BProvider_CreateCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{})
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Reset: true, Times: 1})
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.Error(t, err)
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "create", se.Op)
		assert.True(t, tta.IsTransient(err), "a dropped connection may be retried")
		assert.Equal(t, 1, env.Server.Calls(e2bserver.OpList), "looked for a sandbox the create may have made")

		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.NotEmpty(t, out.SandboxID)
	})
}

// A gateway's 5xx does not prove that the control plane made nothing: the
// provider looks for a sandbox the create may have made, as after a dropped
// connection.
func TestE2BProvider_GatewayErrorCleansUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{})
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Status: http.StatusGatewayTimeout, Times: 1})
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.Error(t, err)
		assert.True(t, tta.IsTransient(err))
		assert.Equal(t, 1, env.Server.Calls(e2bserver.OpList), "looked for a sandbox the create may have made")
	})
}

func TestE2BProvider_RateLimitHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{})
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Status: 429, RetryAfter: 7 * time.Second, Times: 1})
		start := time.Now()
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, 7*time.Second, time.Since(start), "Retry-After decides the delay")
		assert.Equal(t, 0, env.Server.Calls(e2bserver.OpList), "an answered create made nothing")
	})
}

func TestE2BProvider_UnknownTemplate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{}, tta.WithTemplate(tta.Template{Name: "no-such-template"}))
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, e2b.ErrNotFound)
		assert.False(t, tta.IsTransient(err))
		assert.Equal(t, 1, env.Server.Calls(e2bserver.OpCreate))
		assert.False(t, errors.Is(err, tta.ErrSandboxGone))
	})
}

// Sandboxes are secured as the official SDKs' are: without the access token
// from the create answer, envd (files, commands) refuses requests.
func TestE2BProvider_SandboxesAreSecured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{})
		sess, err := exec.NewSession(context.Background())
		require.NoError(t, err)
		defer sess.Close()

		sandboxes := env.Server.Sandboxes()
		require.Len(t, sandboxes, 1)
		assert.NotEmpty(t, sandboxes[0].EnvdAccessToken, "created with secure: true")

		req, err := http.NewRequest(http.MethodGet, env.URL+"/files?path=/home/user/x", nil)
		require.NoError(t, err)
		req.Header.Set(wire.HeaderSandboxID, sess.SandboxID())
		req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.EnvdPort))
		resp, err := env.HTTPClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "envd without the access token")
	})
}

// The warm pool takes create, readiness and kill off the call's path: with
// each of those requests held 1 s by the server, a cold call takes 3 s (create,
// probe, kill, one after the other) and a warm one no time at all, its only
// request being the run.
func TestE2BProvider_WarmCallSendsOnlyTheRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []tta.Option
		want time.Duration
	}{
		{"cold", nil, 3 * time.Second},
		{"warm pool", []tta.Option{tta.WithWarmPool(1)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{
					Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
				}, tc.opts...)
				require.NoError(t, exec.WaitWarm(context.Background()))
				for _, op := range []e2bserver.Op{e2bserver.OpCreate, e2bserver.OpProbe, e2bserver.OpKill} {
					env.Server.Inject(e2bserver.Fault{Op: op, Delay: time.Second})
				}
				runs := env.Server.Calls(e2bserver.OpRun)

				start := time.Now()
				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1+1"})
				require.NoError(t, err)
				assert.Equal(t, tc.want, time.Since(start))
				require.Len(t, out.Results, 1)
				assert.Equal(t, "2", out.Results[0].Text)
				assert.Equal(t, runs+1, env.Server.Calls(e2bserver.OpRun), "one run")
			})
		})
	}
}

// A pooled sandbox that E2B ended while it waited: the proxy answers the run
// with "sandbox not found", which proves the code did not start, so Retry
// runs it in a fresh sandbox.
func TestE2BProvider_PooledSandboxGoneRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec, env := startE2BExec(t, &e2bserver.ScriptedRuntime{
			Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
		}, tta.WithWarmPool(1))
		require.NoError(t, exec.WaitWarm(context.Background()))
		pooled := env.Server.Sandboxes()
		require.Len(t, pooled, 1)
		require.True(t, env.Server.Expire(pooled[0].SandboxID))

		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1+1"})
		require.NoError(t, err)
		assert.NotEqual(t, pooled[0].SandboxID, out.SandboxID)
		require.Len(t, out.Results, 1)
		assert.Equal(t, "2", out.Results[0].Text)
	})
}
