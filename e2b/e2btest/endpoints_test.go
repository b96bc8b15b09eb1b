package e2btest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
)

// These tests drive every endpoint of package e2b's client against the
// E2B-compatible server, through the client's public API only.

// step runs one named part of a test inside a synctest bubble, where t.Run
// is not allowed; the name documents the part.
func step(_ string, f func()) { f() }

// statefulRuntime answers "set V" by storing V in the context's state, "get"
// with the stored value as the main result, "env NAME" with the variable on
// stdout and "where" with the cell's language and context.
func statefulRuntime() *e2bserver.ScriptedRuntime {
	return &e2bserver.ScriptedRuntime{Exec: func(_ context.Context, c *e2bserver.Cell) error {
		switch {
		case strings.HasPrefix(c.Code, "set "):
			c.State["x"] = strings.TrimPrefix(c.Code, "set ")
			return nil
		case c.Code == "get":
			v, _ := c.State["x"].(string)
			return c.Result(v)
		case strings.HasPrefix(c.Code, "env "):
			return c.Stdout(c.EnvVars[strings.TrimPrefix(c.Code, "env ")])
		case c.Code == "where":
			return c.Stdout(c.Language + " " + c.ContextID)
		}
		return nil
	}}
}

func TestCreateByIDAndAlias(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(statefulRuntime()))
		client := env.Client
		ctx := t.Context()
		deny := false
		tests := []struct {
			template          string
			wantID, wantAlias string
		}{
			{"", e2bserver.CodeInterpreterTemplateID, e2b.DefaultTemplate},
			{e2b.DefaultTemplate, e2bserver.CodeInterpreterTemplateID, e2b.DefaultTemplate},
			{e2bserver.CodeInterpreterTemplateID, e2bserver.CodeInterpreterTemplateID, e2b.DefaultTemplate},
			{e2b.BaseTemplate, e2bserver.BaseTemplateID, e2b.BaseTemplate},
			{e2bserver.BaseTemplateID, e2bserver.BaseTemplateID, e2b.BaseTemplate},
		}
		for _, tt := range tests {
			func() { // t.Run is not allowed in a synctest bubble
				opts := e2b.CreateOptions{
					Template:            tt.template,
					Timeout:             90 * time.Second,
					Metadata:            map[string]string{"case": tt.template},
					EnvVars:             map[string]string{"GREETING": "hello"},
					AllowInternetAccess: &deny,
				}
				sbx, err := client.Create(ctx, opts)
				require.NoError(t, err)
				assert.Equal(t, tt.wantID, sbx.TemplateID())
				assert.Equal(t, tt.wantAlias, sbx.Alias())
				assert.Equal(t, e2bserver.DefaultEnvdVersion, sbx.EnvdVersion())
				assert.False(t, sbx.Secure())

				info, err := client.Get(ctx, sbx.ID())
				require.NoError(t, err)
				assert.Equal(t, sbx.ID(), info.ID)
				assert.Equal(t, tt.wantID, info.TemplateID)
				assert.Equal(t, tt.wantAlias, info.Alias)
				assert.Equal(t, e2b.StateRunning, info.State)
				assert.Equal(t, opts.Metadata, info.Metadata)
				assert.Equal(t, 90*time.Second, info.EndAt.Sub(info.StartedAt))
				assert.Equal(t, time.Now().UTC(), info.StartedAt, "fake time stands still")
				require.NotNil(t, info.AllowInternetAccess)
				assert.False(t, *info.AllowInternetAccess)
				assert.Positive(t, info.CPUCount)
				assert.Positive(t, info.MemoryMB)

				if tt.wantID == e2bserver.CodeInterpreterTemplateID {
					exec, err := sbx.RunCode(ctx, "env GREETING", e2b.RunCodeOptions{})
					require.NoError(t, err)
					assert.Equal(t, []string{"hello"}, exec.Logs.Stdout, "create's env vars reach the code")
				}
			}()
		}

		_, err := client.Create(ctx, e2b.CreateOptions{Template: "no-such-template"})
		require.ErrorIs(t, err, e2b.ErrNotFound)
		assert.NotErrorIs(t, err, e2b.ErrSandboxNotFound)
		assert.False(t, isTransient(err))
	})
}

func TestListFiltersByMetadataAndPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		client, srv := env.Client, env.Server
		ctx := t.Context()
		var ids []string // in creation order
		for _, team := range []string{"a b/c", "other", "a b/c", "a+b&c=d%", "a b/c"} {
			sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "base", Metadata: map[string]string{"team": team, "env": "test"}})
			require.NoError(t, err)
			ids = append(ids, sbx.ID())
		}
		require.NoError(t, client.Pause(ctx, ids[4]))
		listIDs := func(opts e2b.ListOptions) []string {
			t.Helper()
			page, err := client.List(ctx, opts)
			require.NoError(t, err)
			assert.Empty(t, page.NextToken)
			var out []string
			for _, s := range page.Sandboxes {
				out = append(out, s.ID)
			}
			return out
		}

		assert.Equal(t, []string{ids[4], ids[2], ids[0]}, listIDs(e2b.ListOptions{Metadata: map[string]string{"team": "a b/c"}}),
			"a space and a slash survive the SDK's triple escaping, newest first")
		assert.Equal(t, []string{ids[3]}, listIDs(e2b.ListOptions{Metadata: map[string]string{"team": "a+b&c=d%"}}))
		assert.Equal(t, []string{ids[2], ids[0]}, listIDs(e2b.ListOptions{Metadata: map[string]string{"team": "a b/c", "env": "test"}, State: []e2b.SandboxState{e2b.StateRunning}}))
		assert.Equal(t, []string{ids[4]}, listIDs(e2b.ListOptions{State: []e2b.SandboxState{e2b.StatePaused}}))
		assert.Empty(t, listIDs(e2b.ListOptions{Metadata: map[string]string{"team": "a b"}}))
		assert.Len(t, listIDs(e2b.ListOptions{}), 5)

		// Paging two at a time walks every sandbox once, newest first.
		var paged []string
		opts := e2b.ListOptions{Limit: 2}
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, pages, 3)
			page, err := client.List(ctx, opts)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(page.Sandboxes), 2)
			for _, s := range page.Sandboxes {
				paged = append(paged, s.ID)
			}
			if page.NextToken == "" {
				break
			}
			opts.NextToken = page.NextToken
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		assert.Equal(t, want, paged)
		assert.Len(t, srv.Sandboxes(), 5)
	})
}

func TestSandboxLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(statefulRuntime()))
		client, srv := env.Client, env.Server
		ctx := t.Context()
		sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: time.Minute})
		require.NoError(t, err)
		id := sbx.ID()
		endAt := func() time.Time {
			t.Helper()
			info, err := sbx.Info(ctx)
			require.NoError(t, err)
			return info.EndAt
		}

		step("set timeout", func() {
			require.NoError(t, sbx.SetTimeout(ctx, 10*time.Minute))
			assert.Equal(t, time.Now().Add(10*time.Minute).UTC(), endAt())
			require.NoError(t, client.SetTimeout(ctx, id, 1500*time.Millisecond), "rounded up to 2 s")
			assert.Equal(t, time.Now().Add(2*time.Second).UTC(), endAt())
			require.NoError(t, sbx.SetTimeout(ctx, 5*time.Minute))
		})

		step("connect to a running sandbox", func() {
			_, err := sbx.RunCode(ctx, "set 5", e2b.RunCodeOptions{})
			require.NoError(t, err)
			again, err := client.Connect(ctx, id, 20*time.Minute)
			require.NoError(t, err)
			assert.Equal(t, id, again.ID())
			assert.Equal(t, sbx.TemplateID(), again.TemplateID())
			exec, err := again.RunCode(ctx, "get", e2b.RunCodeOptions{})
			require.NoError(t, err)
			assert.Equal(t, "5", exec.Text(), "the same kernel")
			assert.Equal(t, time.Now().Add(20*time.Minute).UTC(), endAt(), "connect extends the life")
		})

		step("pause, pause again, resume", func() {
			require.NoError(t, sbx.Pause(ctx))
			require.NoError(t, client.Pause(ctx, id), "already paused (409) is not an error")
			info, err := client.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, e2b.StatePaused, info.State)
			_, err = sbx.RunCode(ctx, "get", e2b.RunCodeOptions{})
			assert.ErrorIs(t, err, e2b.ErrSandboxNotFound, "a paused sandbox serves no traffic")

			time.Sleep(time.Hour) // a paused sandbox does not expire
			resumed, err := client.Connect(ctx, id, 0)
			require.NoError(t, err)
			assert.Equal(t, id, resumed.ID())
			info, err = client.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, e2b.StateRunning, info.State)
			assert.Equal(t, time.Now().Add(e2b.DefaultSandboxTimeout).UTC(), info.EndAt)
			exec, err := resumed.RunCode(ctx, "get", e2b.RunCodeOptions{})
			require.NoError(t, err)
			assert.Equal(t, "5", exec.Text(), "state survives the pause")
		})

		step("expiry after set timeout", func() {
			require.NoError(t, sbx.SetTimeout(ctx, 30*time.Second))
			time.Sleep(30 * time.Second)
			synctest.Wait()
			assert.Empty(t, srv.Sandboxes())
			_, err := client.Get(ctx, id)
			assert.ErrorIs(t, err, e2b.ErrSandboxNotFound)
		})

		step("calls on a sandbox that is gone", func() {
			for name, call := range map[string]func() error{
				"get":         func() error { _, err := client.Get(ctx, id); return err },
				"set timeout": func() error { return client.SetTimeout(ctx, id, time.Minute) },
				"connect":     func() error { _, err := client.Connect(ctx, id, time.Minute); return err },
				"pause":       func() error { return client.Pause(ctx, id) },
				"run code":    func() error { _, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{}); return err },
				"envd":        func() error { return sbx.EnvdHealth(ctx) },
			} {
				err := call()
				assert.ErrorIs(t, err, e2b.ErrSandboxNotFound, name)
				assert.False(t, isTransient(err), name)
			}
			for _, gone := range []string{id, "never-existed"} {
				killed, err := client.Kill(ctx, gone)
				require.NoError(t, err)
				assert.False(t, killed, gone)
			}
		})

		step("kill", func() {
			other, err := client.Create(ctx, e2b.CreateOptions{Template: "base"})
			require.NoError(t, err)
			killed, err := other.Kill(ctx)
			require.NoError(t, err)
			assert.True(t, killed)
			killed, err = other.Kill(ctx)
			require.NoError(t, err)
			assert.False(t, killed, "already gone")
		})
	})
}

func TestHealth(t *testing.T) {
	env := e2btest.Start(t)
	client := env.Client
	ctx := t.Context()
	for _, secure := range []bool{false, true} {
		sbx, err := client.Create(ctx, e2b.CreateOptions{Secure: secure})
		require.NoError(t, err)
		assert.Equal(t, secure, sbx.Secure())
		assert.NoError(t, sbx.EnvdHealth(ctx))
		assert.NoError(t, sbx.InterpreterHealth(ctx))
	}
	base, err := client.Create(ctx, e2b.CreateOptions{Template: e2b.BaseTemplate})
	require.NoError(t, err)
	assert.NoError(t, base.EnvdHealth(ctx))
	err = base.InterpreterHealth(ctx)
	assert.ErrorIs(t, err, e2b.ErrPortNotOpen, "base has no interpreter")
	assert.True(t, isTransient(err))
}

func TestRunCodeCallbacksSeeEveryEventInOrder(t *testing.T) {
	png := strings.Repeat("iVBORw0KGgo", 100)
	display := wire.ExecutionEvent{
		Type: wire.EventResult, Text: "<Figure>", HTML: "<b>x</b>", Markdown: "**x**", SVG: "<svg/>",
		PNG: png, JPEG: "/9j/", PDF: "JVBERi0=", LaTeX: "$x$", JSON: map[string]any{"a": 1.0},
		JavaScript: "alert(1)", Data: map[string]any{"rows": 2.0}, Chart: map[string]any{"type": "bar"},
		Extra: map[string]any{"application/x-custom": "y"},
	}
	rt := &e2bserver.ScriptedRuntime{Exec: func(_ context.Context, c *e2bserver.Cell) error {
		for _, step := range []func() error{
			func() error { return c.Stdout("out 1\n") },
			func() error { return c.Stderr("warn\n") },
			func() error { return c.Emit(display) },
			func() error { return c.Stdout(c.Language + " " + c.EnvVars["RUN"] + "\n") },
			func() error { return c.Result("42") },
			func() error { return c.Raise("ValueError", "bad value", "Traceback...\nValueError: bad value") },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	}}
	env := e2btest.Start(t, e2bserver.WithRuntime(rt))
	client := env.Client
	ctx := t.Context()
	sbx, err := client.Create(ctx, e2b.CreateOptions{EnvVars: map[string]string{"RUN": "sandbox"}})
	require.NoError(t, err)

	var seen []string
	exec, err := sbx.RunCode(ctx, "anything", e2b.RunCodeOptions{
		Language: "js",
		EnvVars:  map[string]string{"RUN": "this run"},
		OnStdout: func(m e2b.OutputMessage) {
			assert.False(t, m.Error)
			assert.False(t, m.Timestamp.IsZero())
			seen = append(seen, "stdout:"+m.Line)
		},
		OnStderr: func(m e2b.OutputMessage) {
			assert.True(t, m.Error)
			seen = append(seen, "stderr:"+m.Line)
		},
		OnResult: func(r e2b.Result) { seen = append(seen, "result:"+r.Text) },
		OnError:  func(e e2b.ExecutionError) { seen = append(seen, "error:"+e.Name) },
	})
	require.NoError(t, err, "the code raising is a result")
	assert.Equal(t, []string{
		"stdout:out 1\n", "stderr:warn\n", "result:<Figure>", "stdout:javascript this run\n", "result:42", "error:ValueError",
	}, seen)
	assert.Equal(t, []string{"out 1\n", "javascript this run\n"}, exec.Logs.Stdout)
	assert.Equal(t, []string{"warn\n"}, exec.Logs.Stderr)
	assert.Equal(t, 1, exec.ExecutionCount)
	assert.Equal(t, "42", exec.Text())
	require.NotNil(t, exec.Error)
	assert.Equal(t, e2b.ExecutionError{Name: "ValueError", Value: "bad value", Traceback: "Traceback...\nValueError: bad value"}, *exec.Error)
	require.Len(t, exec.Results, 2)
	assert.Equal(t, e2b.Result{
		Text: "<Figure>", HTML: "<b>x</b>", Markdown: "**x**", SVG: "<svg/>", PNG: png, JPEG: "/9j/", PDF: "JVBERi0=",
		LaTeX: "$x$", JSON: map[string]any{"a": 1.0}, JavaScript: "alert(1)", Data: map[string]any{"rows": 2.0},
		Chart: map[string]any{"type": "bar"}, Extra: map[string]any{"application/x-custom": "y"},
	}, exec.Results[0])
	assert.Equal(t, []string{"text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json", "javascript", "data", "chart", "application/x-custom"},
		exec.Results[0].Formats())
	assert.True(t, exec.Results[1].IsMainResult)

	_, err = sbx.RunCode(ctx, "x", e2b.RunCodeOptions{Language: "python", ContextID: "c"})
	assert.ErrorContains(t, err, "mutually exclusive")
}

func TestContexts(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithRuntime(statefulRuntime()))
	client := env.Client
	ctx := t.Context()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Secure: true})
	require.NoError(t, err)

	py, err := sbx.CreateContext(ctx, "python", "/tmp")
	require.NoError(t, err)
	assert.NotEmpty(t, py.ID)
	assert.Equal(t, "python", py.Language)
	assert.Equal(t, "/tmp", py.Cwd)
	js, err := sbx.CreateContext(ctx, "", "")
	require.NoError(t, err)
	assert.Equal(t, "python", js.Language, "python by default")
	assert.Equal(t, "/home/user", js.Cwd)

	list, err := sbx.ListContexts(ctx)
	require.NoError(t, err)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	assert.Len(t, list, 4, "the python and javascript defaults and two new ones")
	assert.Contains(t, ids, py.ID)
	assert.Contains(t, ids, js.ID)

	run := func(code, contextID string) *e2b.Execution {
		t.Helper()
		exec, err := sbx.RunCode(ctx, code, e2b.RunCodeOptions{ContextID: contextID})
		require.NoError(t, err)
		return exec
	}
	run("set 7", py.ID)
	exec := run("get", py.ID)
	assert.Equal(t, "7", exec.Text(), "state persists within a context")
	assert.Equal(t, 2, exec.ExecutionCount)
	assert.Equal(t, []string{"python " + py.ID}, run("where", py.ID).Logs.Stdout)
	assert.Empty(t, run("get", js.ID).Text(), "contexts do not share state")
	assert.Empty(t, run("get", "").Text(), "nor does the default context")

	require.NoError(t, sbx.RestartContext(ctx, py.ID))
	exec = run("get", py.ID)
	assert.Empty(t, exec.Text(), "a restart clears the state")
	assert.Equal(t, 1, exec.ExecutionCount)

	require.NoError(t, sbx.RemoveContext(ctx, py.ID))
	list, err = sbx.ListContexts(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 3)
	for name, call := range map[string]func() error{
		"run":     func() error { _, err := sbx.RunCode(ctx, "get", e2b.RunCodeOptions{ContextID: py.ID}); return err },
		"remove":  func() error { return sbx.RemoveContext(ctx, py.ID) },
		"restart": func() error { return sbx.RestartContext(ctx, py.ID) },
	} {
		err := call()
		assert.ErrorIs(t, err, e2b.ErrNotFound, name)
		assert.NotErrorIs(t, err, e2b.ErrSandboxNotFound, name)
		assert.False(t, isTransient(err), name)
	}
}

func TestFiles(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			env := e2btest.Start(t)
			client := env.Client
			ctx := t.Context()
			sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "base", Secure: secure})
			require.NoError(t, err)

			entry, err := sbx.WriteFile(ctx, "dir/a.txt", []byte("alpha"))
			require.NoError(t, err)
			assert.Equal(t, e2b.FileEntry{Name: "a.txt", Type: "file", Path: "/home/user/dir/a.txt"}, entry)
			binary := []byte(strings.Repeat("\x00\xff binary\n", 100_000))
			_, err = sbx.WriteFile(ctx, "/tmp/blob.bin", binary)
			require.NoError(t, err)

			for _, p := range []string{"dir/a.txt", "/home/user/dir/a.txt", "~/dir/a.txt"} {
				data, err := sbx.ReadFile(ctx, p)
				require.NoError(t, err, p)
				assert.Equal(t, "alpha", string(data), p)
			}
			data, err := sbx.ReadFile(ctx, "/tmp/blob.bin")
			require.NoError(t, err)
			assert.Equal(t, binary, data)

			st, err := sbx.Stat(ctx, "dir/a.txt")
			require.NoError(t, err)
			assert.Equal(t, e2b.FileTypeFile, st.Type)
			assert.Equal(t, "/home/user/dir/a.txt", st.Path)
			assert.Equal(t, int64(5), st.Size)

			created, err := sbx.MakeDir(ctx, "dir/sub/deeper")
			require.NoError(t, err)
			assert.True(t, created)
			created, err = sbx.MakeDir(ctx, "dir/sub/deeper")
			require.NoError(t, err)
			assert.False(t, created, "already there")

			entries, err := sbx.ListDir(ctx, "dir")
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name+":"+string(e.Type))
			}
			assert.Equal(t, []string{"sub:dir", "a.txt:file"}, names, "one level, directories first")

			moved, err := sbx.Move(ctx, "dir/a.txt", "/tmp/moved/b.txt")
			require.NoError(t, err)
			assert.Equal(t, "/tmp/moved/b.txt", moved.Path)
			assert.Equal(t, "b.txt", moved.Name)
			data, err = sbx.ReadFile(ctx, "/tmp/moved/b.txt")
			require.NoError(t, err)
			assert.Equal(t, "alpha", string(data))

			require.NoError(t, sbx.Remove(ctx, "dir"))
			for name, call := range map[string]func() error{
				"read moved":     func() error { _, err := sbx.ReadFile(ctx, "dir/a.txt"); return err },
				"stat removed":   func() error { _, err := sbx.Stat(ctx, "dir"); return err },
				"list removed":   func() error { _, err := sbx.ListDir(ctx, "dir"); return err },
				"remove missing": func() error { return sbx.Remove(ctx, "dir") },
				"move missing":   func() error { _, err := sbx.Move(ctx, "nothing", "else"); return err },
			} {
				err := call()
				assert.ErrorIs(t, err, e2b.ErrNotFound, name)
				assert.False(t, isTransient(err), name)
			}
		})
	}
}

func TestRunCommandStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &e2bserver.ScriptedRuntime{Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
			if cmd.Line != "count" {
				return 127, cmd.Stderr("unknown command " + cmd.Line + "\n")
			}
			if err := cmd.Stdout(cmd.Spec.Cwd + " " + cmd.EnvVars["WHO"] + "\n"); err != nil {
				return 0, err
			}
			for i := 1; i <= 3; i++ {
				if err := cmd.Sleep(time.Second); err != nil {
					return 0, err
				}
				if err := cmd.Stdout(fmt.Sprintf("%d\n", i)); err != nil {
					return 0, err
				}
				if err := cmd.Stderr("tick\n"); err != nil {
					return 0, err
				}
			}
			return 4, nil
		}}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		client := env.Client
		ctx := t.Context()
		sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "base", EnvVars: map[string]string{"WHO": "sandbox"}})
		require.NoError(t, err)

		start := time.Now()
		var chunks []string
		res, err := sbx.RunCommand(ctx, "count", e2b.CommandOptions{
			Cwd:      "/tmp",
			Envs:     map[string]string{"WHO": "command"},
			OnStdout: func(s string) { chunks = append(chunks, fmt.Sprintf("%s@%s", s, time.Since(start))) },
			OnStderr: func(s string) { chunks = append(chunks, "err:"+s) },
		})
		require.NoError(t, err, "a non-zero exit is a result")
		assert.Equal(t, 4, res.ExitCode)
		assert.Equal(t, "/tmp command\n1\n2\n3\n", res.Stdout)
		assert.Equal(t, "tick\ntick\ntick\n", res.Stderr)
		assert.Equal(t, []string{
			"/tmp command\n@0s", "1\n@1s", "err:tick\n", "2\n@2s", "err:tick\n", "3\n@3s", "err:tick\n",
		}, chunks, "each chunk arrives as it is written")

		res, err = sbx.RunCommand(ctx, "nope", e2b.CommandOptions{})
		require.NoError(t, err)
		assert.Equal(t, 127, res.ExitCode)
		assert.Equal(t, "unknown command nope\n", res.Stderr)
	})
}

func TestRunCommandKillsTheProcessOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		causes := make(chan error, 2)
		rt := &e2bserver.ScriptedRuntime{Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
			for {
				if err := cmd.Stdout("tick\n"); err != nil {
					causes <- err
					return 0, err
				}
				if err := cmd.Sleep(time.Second); err != nil {
					causes <- context.Cause(ctx)
					return 0, err
				}
			}
		}}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		client, srv := env.Client, env.Server
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{Template: "base"})
		require.NoError(t, err)

		step("cancel", func() {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ticks := 0
			start := time.Now()
			res, err := sbx.RunCommand(ctx, "forever", e2b.CommandOptions{OnStdout: func(string) {
				if ticks++; ticks == 3 {
					cancel()
				}
			}})
			require.ErrorIs(t, err, context.Canceled)
			assert.False(t, isTransient(err))
			assert.Equal(t, "tick\ntick\ntick\n", res.Stdout, "the output so far")
			assert.Equal(t, 2*time.Second, time.Since(start))
			synctest.Wait()
			require.Len(t, causes, 1, "the process ended")
			assert.Error(t, <-causes)
		})
		step("timeout", func() {
			start := time.Now()
			_, err := sbx.RunCommand(t.Context(), "forever", e2b.CommandOptions{Timeout: 5 * time.Second})
			require.ErrorIs(t, err, e2b.ErrExecutionTimeout)
			assert.Equal(t, 5*time.Second, time.Since(start))
			synctest.Wait()
			require.Len(t, causes, 1, "the process ended")
			assert.Error(t, <-causes)
		})
		assert.Equal(t, 4, srv.Calls(e2bserver.OpCommand), "two starts and two kills")
	})
}
