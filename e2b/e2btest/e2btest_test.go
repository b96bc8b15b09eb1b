package e2btest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transient is the Transient method e2b's errors carry.
type transient interface{ Transient() bool }

func isTransient(err error) bool {
	var tr transient
	return errors.As(err, &tr) && tr.Transient()
}

var scripted = &e2bserver.ScriptedRuntime{
	Replies: map[string]e2bserver.Reply{
		"print('hello'); 1+1": {Stdout: "hello\n", Result: "2"},
		"1/0":                 {Error: &e2bserver.ExecError{Name: "ZeroDivisionError", Value: "division by zero"}},
	},
	Commands: map[string]e2bserver.CommandReply{
		"ls /data": {Stdout: "a.csv\n", ExitCode: 0},
		"false":    {Stderr: "nope\n", ExitCode: 1},
	},
}

func TestClientMainPaths(t *testing.T) {
	for _, tt := range []struct {
		name   string
		start  func(testing.TB, ...e2bserver.Option) *e2b.Client
		secure bool
	}{
		{"loopback", func(t testing.TB, o ...e2bserver.Option) *e2b.Client { return e2btest.Start(t, o...).Client }, false},
		{"loopback secure", func(t testing.TB, o ...e2bserver.Option) *e2b.Client { return e2btest.Start(t, o...).Client }, true},
		{"in memory", func(t testing.TB, o ...e2bserver.Option) *e2b.Client { return e2btest.StartInMemory(t, o...).Client }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := tt.start(t, e2bserver.WithRuntime(scripted))
			ctx := t.Context()
			sbx, err := client.Create(ctx, e2b.CreateOptions{Metadata: map[string]string{"run": "1"}, Secure: tt.secure})
			require.NoError(t, err)
			assert.Equal(t, e2bserver.CodeInterpreterTemplateID, sbx.TemplateID())
			require.NoError(t, sbx.InterpreterHealth(ctx))
			require.NoError(t, sbx.EnvdHealth(ctx))

			var streamed []string
			exec, err := sbx.RunCode(ctx, "print('hello'); 1+1", e2b.RunCodeOptions{
				OnStdout: func(m e2b.OutputMessage) { streamed = append(streamed, m.Line) },
			})
			require.NoError(t, err)
			assert.Equal(t, []string{"hello\n"}, exec.Logs.Stdout)
			assert.Equal(t, []string{"hello\n"}, streamed)
			assert.Equal(t, "2", exec.Text())
			assert.Nil(t, exec.Error)

			exec, err = sbx.RunCode(ctx, "1/0", e2b.RunCodeOptions{})
			require.NoError(t, err, "the code raising is a result")
			require.NotNil(t, exec.Error)
			assert.Equal(t, "ZeroDivisionError", exec.Error.Name)
			assert.Equal(t, 2, exec.ExecutionCount)

			_, err = sbx.WriteFile(ctx, "data/in.csv", []byte("a,b\n1,2\n"))
			require.NoError(t, err)
			data, err := sbx.ReadFile(ctx, "/home/user/data/in.csv")
			require.NoError(t, err)
			assert.Equal(t, "a,b\n1,2\n", string(data))
			entries, err := sbx.ListDir(ctx, "data")
			require.NoError(t, err)
			require.Len(t, entries, 1)
			assert.Equal(t, "in.csv", entries[0].Name)
			_, err = sbx.ReadFile(ctx, "missing.txt")
			assert.ErrorIs(t, err, e2b.ErrNotFound)

			res, err := sbx.RunCommand(ctx, "ls /data", e2b.CommandOptions{})
			require.NoError(t, err)
			assert.Equal(t, 0, res.ExitCode)
			assert.Equal(t, "a.csv\n", res.Stdout)
			res, err = sbx.RunCommand(ctx, "false", e2b.CommandOptions{})
			require.NoError(t, err, "a non-zero exit is a result")
			assert.Equal(t, 1, res.ExitCode)
			assert.Equal(t, "nope\n", res.Stderr)

			page, err := client.List(ctx, e2b.ListOptions{})
			require.NoError(t, err)
			require.Len(t, page.Sandboxes, 1)
			assert.Equal(t, map[string]string{"run": "1"}, page.Sandboxes[0].Metadata)

			killed, err := sbx.Kill(ctx)
			require.NoError(t, err)
			assert.True(t, killed)
			killed, err = client.Kill(ctx, sbx.ID())
			require.NoError(t, err)
			assert.False(t, killed, "already gone")

			_, err = sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
			assert.ErrorIs(t, err, e2b.ErrSandboxNotFound)
			assert.False(t, isTransient(err))
		})
	}
}

func TestClientSeesPortNotOpenThenReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithTemplates(e2bserver.Template{
			ID: "mlmin0000000000000000", Alias: "tta-ml-minimal",
			Faults: e2bserver.SandboxFaults{ReadyAfter: 40 * time.Second},
		}))
		client, srv := env.Client, env.Server
		ctx := t.Context()
		sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "tta-ml-minimal", Timeout: 5 * time.Minute})
		require.NoError(t, err)

		err = sbx.InterpreterHealth(ctx)
		require.ErrorIs(t, err, e2b.ErrPortNotOpen)
		assert.True(t, isTransient(err))
		var apiErr *e2b.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, e2b.InterpreterPort, apiErr.Port)

		time.Sleep(40 * time.Second)
		require.NoError(t, sbx.InterpreterHealth(ctx))
		assert.Equal(t, 2, srv.Calls(e2bserver.OpProbe))
	})
}

func TestClientSeesRateLimit(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithFaults(e2bserver.Fault{
		Op: e2bserver.OpCreate, Status: 429, RetryAfter: 2 * time.Second, Times: 1,
	}))
	client, srv := env.Client, env.Server
	_, err := client.Create(t.Context(), e2b.CreateOptions{})
	var apiErr *e2b.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 429, apiErr.StatusCode)
	assert.Equal(t, 2*time.Second, apiErr.RetryAfter())
	assert.True(t, apiErr.Transient())

	_, err = client.Create(t.Context(), e2b.CreateOptions{})
	require.NoError(t, err)
	assert.Len(t, srv.Sandboxes(), 1)
}

func TestClientSandboxExpiresInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
			Exec: func(ctx context.Context, c *e2bserver.Cell) error {
				for {
					if err := c.Stdout("tick\n"); err != nil {
						return err
					}
					if err := c.Sleep(3 * time.Second); err != nil {
						return err
					}
				}
			},
		}))
		client, srv := env.Client, env.Server
		ctx := t.Context()
		sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: 10 * time.Second})
		require.NoError(t, err)

		start := time.Now()
		exec, err := sbx.RunCode(ctx, "while True: tick()", e2b.RunCodeOptions{Timeout: time.Minute})
		assert.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
		assert.Equal(t, 10*time.Second, time.Since(start))
		if assert.NotNil(t, exec) {
			assert.Len(t, exec.Logs.Stdout, 4, "ticks at 0, 3, 6 and 9 s")
		}
		assert.Empty(t, srv.Sandboxes())
		_, err = sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
		assert.ErrorIs(t, err, e2b.ErrSandboxNotFound)
	})
}

func TestClientSeesStreamCut(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithRuntime(scripted))
	client, srv := env.Client, env.Server
	sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
	require.NoError(t, err)
	require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{CutExecutionAfterLines: 2}))
	_, err = sbx.RunCode(t.Context(), "print('hello'); 1+1", e2b.RunCodeOptions{})
	assert.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
	assert.False(t, isTransient(err), "the code may have run")
}

func TestEnvClientOptions(t *testing.T) {
	env := e2btest.Start(t)
	assert.Regexp(t, `^e2b_[0-9a-f]{40}$`, env.APIKey)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, env.URL)
	other, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithRequestTimeout(time.Minute))...)
	require.NoError(t, err)
	defer other.CloseIdleConnections()
	sbx, err := other.Create(t.Context(), e2b.CreateOptions{Template: "base"})
	require.NoError(t, err)
	info, err := env.Client.Get(t.Context(), sbx.ID())
	require.NoError(t, err)
	assert.Equal(t, sbx.ID(), info.ID)
	assert.ErrorIs(t, sbx.InterpreterHealth(t.Context()), e2b.ErrPortNotOpen, "base has no interpreter")
}
