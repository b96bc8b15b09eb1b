package localrt

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
)

// newClient serves a local runtime and returns a client of it.
func newClient(t *testing.T) (*e2b.Client, *e2bserver.Server) {
	t.Helper()
	rt, err := New(WithRoot(t.TempDir()), withInterruptGrace(time.Second))
	require.NoError(t, err)
	srv, err := e2bserver.New(e2bserver.WithRuntime(rt))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, rt.Close())
	})
	client, err := e2b.NewClient(
		e2b.WithAPIKey("e2b_0123456789abcdef"),
		e2b.WithAPIURL("http://e2b.local"),
		e2b.WithSandboxURL("http://e2b.local"),
		e2b.WithHTTPClient(srv.InMemoryClient()),
	)
	require.NoError(t, err)
	return client, srv
}

func TestThroughTheServer(t *testing.T) {
	client, srv := newClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: time.Minute, EnvVars: map[string]string{"TTA_E2E": "sandbox"}})
	require.NoError(t, err)
	require.NoError(t, sbx.InterpreterHealth(ctx))
	require.NoError(t, sbx.EnvdHealth(ctx))

	// Streaming callbacks, results, state, env vars.
	var streamed []string
	exec, err := sbx.RunCode(ctx, "import os, sys\nx = 10\nprint('out')\nprint('err', file=sys.stderr)\nos.environ['TTA_E2E'], os.environ['TTA_RUN']", e2b.RunCodeOptions{
		EnvVars:  map[string]string{"TTA_RUN": "run"},
		OnStdout: func(m e2b.OutputMessage) { streamed = append(streamed, "stdout:"+m.Line) },
		OnStderr: func(m e2b.OutputMessage) { streamed = append(streamed, "stderr:"+m.Line) },
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout:out\n", "stderr:err\n"}, streamed)
	assert.Equal(t, "('sandbox', 'run')", exec.Text())
	assert.Equal(t, 1, exec.ExecutionCount)

	exec, err = sbx.RunCode(ctx, "x / 0", e2b.RunCodeOptions{})
	require.NoError(t, err, "the code raising is a result")
	require.NotNil(t, exec.Error)
	assert.Equal(t, "ZeroDivisionError", exec.Error.Name)
	assert.Contains(t, exec.Error.Traceback, "----> 1 x / 0")

	// Cancelling closes the connection, which interrupts the code; the
	// context keeps its state.
	cctx, ccancel := context.WithCancel(ctx)
	_, err = sbx.RunCode(cctx, "print('spinning', flush=True)\nwhile True: pass", e2b.RunCodeOptions{
		OnStdout: func(e2b.OutputMessage) { ccancel() },
	})
	ccancel()
	require.ErrorIs(t, err, context.Canceled)
	exec, err = sbx.RunCode(ctx, "x", e2b.RunCodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "10", exec.Text())

	// Other languages and contexts.
	exec, err = sbx.RunCode(ctx, "const y = 5; y * 2", e2b.RunCodeOptions{Language: "javascript"})
	require.NoError(t, err)
	assert.Equal(t, "10", exec.Text())
	exec, err = sbx.RunCode(ctx, "echo \"$TTA_E2E\"; exit 2", e2b.RunCodeOptions{Language: "bash"})
	require.NoError(t, err)
	assert.Equal(t, []string{"sandbox\n"}, exec.Logs.Stdout)
	require.NotNil(t, exec.Error)
	assert.Equal(t, "exit status 2", exec.Error.Value)
	_, err = sbx.RunCode(ctx, "1", e2b.RunCodeOptions{Language: "typescript"})
	assert.Error(t, err, "no TypeScript kernel")
	info, err := sbx.CreateContext(ctx, "python", "/home/user/work")
	require.NoError(t, err)
	exec, err = sbx.RunCode(ctx, "import os\nos.getcwd().endswith('work')", e2b.RunCodeOptions{ContextID: info.ID})
	require.NoError(t, err)
	assert.Equal(t, "True", exec.Text())
	list, err := sbx.ListContexts(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 4)
	require.NoError(t, sbx.RemoveContext(ctx, info.ID))

	// Files and commands see the same home.
	_, err = sbx.WriteFile(ctx, "notes/a.txt", []byte("written by envd"))
	require.NoError(t, err)
	res, err := sbx.RunCommand(ctx, "cat /home/user/notes/a.txt 2>/dev/null || cat notes/a.txt; echo made > b.txt", e2b.CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "written by envd", res.Stdout)
	data, err := sbx.ReadFile(ctx, "/home/user/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "made\n", string(data))
	entries, err := sbx.ListDir(ctx, "/home/user")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	assert.Subset(t, names, []string{"b.txt", "notes", "work"})
	_, err = sbx.ReadFile(ctx, "/home/user/../../etc/passwd")
	assert.Error(t, err)

	res, err = sbx.RunCommand(ctx, "echo oops >&2; exit 3", e2b.CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "oops\n", res.Stderr)

	killed, err := sbx.Kill(ctx)
	require.NoError(t, err)
	assert.True(t, killed)
	assert.Empty(t, srv.Sandboxes())
	_, err = sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
	assert.Error(t, err)
}

func TestThroughTheServerTemplates(t *testing.T) {
	for _, name := range []string{e2b.BaseTemplate, "code-interpreter-v1"} {
		t.Run(name, func(t *testing.T) {
			client, _ := newClient(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			sbx, err := client.Create(ctx, e2b.CreateOptions{Template: name, Timeout: time.Minute})
			require.NoError(t, err)
			defer sbx.Kill(ctx)
			err = sbx.InterpreterHealth(ctx)
			if name == e2b.BaseTemplate {
				assert.ErrorIs(t, err, e2b.ErrPortNotOpen)
			} else {
				assert.NoError(t, err)
			}
			res, err := sbx.RunCommand(ctx, "echo $((6*7))", e2b.CommandOptions{})
			require.NoError(t, err)
			assert.Equal(t, "42", strings.TrimSpace(res.Stdout))
		})
	}
}
