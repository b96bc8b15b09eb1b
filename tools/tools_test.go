package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/local"
	"github.com/tta-dev/tta/tools"
	"github.com/tta-dev/tta/ttatest"
)

// env is a Set on a local sandbox server of the test's own.
type env struct {
	set   *tools.Set
	srv   *local.Server
	tools map[string]tools.Tool
}

// live returns the IDs of the sandboxes the server still runs.
func (e *env) live() []string {
	var ids []string
	for _, sb := range e.srv.Handler().Sandboxes() {
		ids = append(ids, sb.SandboxID)
	}
	return ids
}

// newEnv starts a local server and a Set on it; when the test ends the Set
// and the primitive are closed and no sandbox may be left running.
func newEnv(t *testing.T, opts ...tools.Option) *env {
	t.Helper()
	testenv.RequireLocalTools(t, "python3")
	srv, err := local.Start(local.WithRoot(t.TempDir()))
	require.NoError(t, err)
	client, err := srv.Client()
	require.NoError(t, err)
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(client))
	require.NoError(t, err)
	set, err := tools.NewSet(exec, opts...)
	require.NoError(t, err)
	e := &env{set: set, srv: srv, tools: map[string]tools.Tool{}}
	for _, tl := range set.Tools() {
		e.tools[tl.Name] = tl
	}
	t.Cleanup(func() {
		assert.NoError(t, set.Close())
		assert.NoError(t, exec.Close())
		assert.Empty(t, e.live(), "sandboxes left running")
		_, err := srv.Close()
		assert.NoError(t, err)
	})
	return e
}

// call calls the tool name with args, a JSON object, bounded by 60 s.
func (e *env) call(t *testing.T, name, args string) tools.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tl, ok := e.tools[name]
	require.True(t, ok, "no tool %s", name)
	return tl.Call(ctx, json.RawMessage(args), nil)
}

// openSession opens a session and returns its ID.
func (e *env) openSession(t *testing.T) string {
	t.Helper()
	res := e.call(t, "session_open", `{}`)
	require.False(t, res.IsError, res.Text())
	id, _, ok := strings.Cut(strings.TrimPrefix(res.Text(), "session_id: "), "\n")
	require.True(t, ok, res.Text())
	return id
}

func TestToolsHaveObjectSchemasWithTheirArguments(t *testing.T) {
	set, err := tools.NewSet(fakeExec(t))
	require.NoError(t, err)
	names := map[string][]string{}
	for _, tl := range set.Tools() {
		var schema struct {
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		require.NoError(t, json.Unmarshal(tl.InputSchema, &schema), tl.Name)
		assert.Equal(t, "object", schema.Type, tl.Name)
		assert.NotEmpty(t, tl.Description, tl.Name)
		names[tl.Name] = schema.Required
	}
	assert.Equal(t, map[string][]string{
		"run_code":      {"code"},
		"session_open":  nil,
		"session_run":   {"session_id", "code"},
		"session_close": {"session_id"},
		"files_write":   {"session_id", "path", "content"},
		"files_read":    {"session_id", "path"},
		"files_list":    {"session_id"},
		"run_command":   {"command"},
	}, names)
}

func TestNewSetRejectsBadOptions(t *testing.T) {
	exec := fakeExec(t)
	for name, opts := range map[string][]tools.Option{
		"nil option":   {nil},
		"idle timeout": {tools.WithIdleTimeout(0)},
		"sessions":     {tools.WithMaxSessions(-1)},
		"code bytes":   {tools.WithMaxCodeBytes(0)},
	} {
		_, err := tools.NewSet(exec, opts...)
		assert.Error(t, err, name)
	}
	_, err := tools.NewSet(nil)
	assert.ErrorContains(t, err, "tta.NewCodeExecution")
}

func TestBadArgumentsAreToolErrorsThatSayWhatWasWrong(t *testing.T) {
	set, err := tools.NewSet(fakeExec(t), tools.WithMaxCodeBytes(10))
	require.NoError(t, err)
	byName := map[string]tools.Tool{}
	for _, tl := range set.Tools() {
		byName[tl.Name] = tl
	}
	for _, c := range []struct{ tool, args, want string }{
		{"run_code", `{"code": 42}`, `argument "code" must be a string, not a JSON number`},
		{"run_code", `{"code": "1", "timeout": "5s"}`, `argument "timeout" must be a number, not a JSON string`},
		{"run_code", `{"code": "1", "colour": "red"}`, `unknown argument "colour"; the arguments are "code", "language", "timeout", "env"`},
		{"run_code", `{}`, `argument "code" is required`},
		{"run_code", `[1]`, `must be a JSON object`},
		{"run_code", `{"code": "print(1) # too long"}`, `the code is 19 bytes, more than the limit of 10`},
		{"run_code", `{"code": "1", "timeout": -1}`, `argument "timeout" is -1; give seconds >= 0`},
		{"session_run", `{"session_id": "nope", "code": "1"}`, `no open session "nope": open one with session_open`},
		{"files_read", `{"session_id": "nope", "path": "a"}`, `no open session "nope"`},
		{"run_command", `{"command": " "}`, `argument "command" is empty`},
		{"files_write", `{"session_id": "s", "path": "a", "content": "%%%", "base64": true}`, `not valid base64`},
	} {
		res := byName[c.tool].Call(t.Context(), json.RawMessage(c.args), nil)
		assert.True(t, res.IsError, "%s %s", c.tool, c.args)
		assert.Contains(t, res.Text(), c.want, "%s %s", c.tool, c.args)
	}
	assert.True(t, tools.Tool{}.Call(t.Context(), nil, nil).IsError, "a zero Tool")
}

func TestRunCodeOutputResultAndError(t *testing.T) {
	e := newEnv(t)
	res := e.call(t, "run_code", `{"code": "import os\nprint('hi', os.environ['WHO'])\n6*7", "env": {"WHO": "there"}}`)
	require.False(t, res.IsError, res.Text())
	assert.Equal(t, "stdout:\nhi there\n\n\nresult:\n42", res.Text())

	res = e.call(t, "run_code", `{"code": "1/0"}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "error: ZeroDivisionError: division by zero")
	assert.Contains(t, res.Text(), "traceback:")
	assert.NotContains(t, res.Text(), "\x1b[", "colour codes stripped")

	res = e.call(t, "run_code", `{"code": "x = 1"}`)
	require.False(t, res.IsError, res.Text())
	res = e.call(t, "run_code", `{"code": "x"}`)
	assert.True(t, res.IsError, "run_code keeps no state between calls")
	assert.Contains(t, res.Text(), "NameError")
}

func TestRunCodeProgressAndTimeout(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var msgs []string
	res := e.tools["run_code"].Call(t.Context(), json.RawMessage(`{"code": "print('one')\nprint('two')"}`), func(m string) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, m)
	})
	require.False(t, res.IsError, res.Text())
	mu.Lock()
	assert.Equal(t, "starting a sandbox", msgs[0])
	assert.Contains(t, strings.Join(msgs, "|"), "stdout: one")
	mu.Unlock()

	res = e.call(t, "run_code", `{"code": "import time\ntime.sleep(30)", "timeout": 0.5}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "ran longer than its timeout of 500ms")
}

func TestRunCodeCancelledKillsTheSandbox(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var once sync.Once
	done := make(chan tools.Result, 1)
	go func() {
		done <- e.tools["run_code"].Call(ctx, json.RawMessage(`{"code": "import time\nprint('go', flush=True)\ntime.sleep(60)"}`), func(m string) {
			if strings.HasPrefix(m, "stdout: go") {
				once.Do(func() { close(started) })
			}
		})
	}()
	<-started
	assert.Len(t, e.live(), 1)
	cancel()
	res := <-done
	assert.True(t, res.IsError)
	assert.Empty(t, e.live(), "the cancelled call's sandbox is killed before Call returns")
}

func TestSessionKeepsStateAndFiles(t *testing.T) {
	e := newEnv(t)
	id := e.openSession(t)
	assert.Equal(t, []string{id}, e.set.Sessions())
	require.False(t, e.call(t, "session_run", `{"session_id": "`+id+`", "code": "x = 40"}`).IsError)
	res := e.call(t, "session_run", `{"session_id": "`+id+`", "code": "x + 2"}`)
	require.False(t, res.IsError, res.Text())
	assert.Equal(t, "result:\n42", res.Text())

	res = e.call(t, "files_write", `{"session_id": "`+id+`", "path": "data/in.txt", "content": "hello file"}`)
	require.False(t, res.IsError, res.Text())
	res = e.call(t, "files_read", `{"session_id": "`+id+`", "path": "data/in.txt"}`)
	require.False(t, res.IsError, res.Text())
	assert.Equal(t, "hello file", res.Text())
	res = e.call(t, "files_list", `{"session_id": "`+id+`", "path": "data"}`)
	require.False(t, res.IsError, res.Text())
	assert.Equal(t, "in.txt\t10 bytes", res.Text())
	res = e.call(t, "session_run", `{"session_id": "`+id+`", "code": "open('data/in.txt').read().upper()"}`)
	assert.Contains(t, res.Text(), "HELLO FILE", "the code sees the file written")
	res = e.call(t, "files_read", `{"session_id": "`+id+`", "path": "missing.txt"}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "files_list")

	res = e.call(t, "run_command", `{"session_id": "`+id+`", "command": "cat data/in.txt; exit 3"}`)
	assert.True(t, res.IsError, "a non-zero exit status is a tool error")
	assert.Equal(t, "exit status 3\n\nstdout:\nhello file", res.Text())

	res = e.call(t, "session_close", `{"session_id": "`+id+`"}`)
	require.False(t, res.IsError, res.Text())
	assert.Empty(t, e.live())
	res = e.call(t, "session_run", `{"session_id": "`+id+`", "code": "x"}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "open one with session_open")
}

func TestRunCommandWithoutSessionUsesAFreshSandbox(t *testing.T) {
	e := newEnv(t)
	res := e.call(t, "run_command", `{"command": "echo $((6*7))"}`)
	require.False(t, res.IsError, res.Text())
	assert.Equal(t, "exit status 0\n\nstdout:\n42\n", res.Text())
	assert.Empty(t, e.live())
}

func TestPNGResultIsAnImage(t *testing.T) {
	e := newEnv(t)
	code := `import base64
class P:
    def _repr_png_(self):
        return base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
P()`
	args, _ := json.Marshal(map[string]string{"code": code})
	res := e.call(t, "run_code", string(args))
	require.False(t, res.IsError, res.Text())
	var images []tools.Content
	for _, c := range res.Content {
		if c.IsImage() {
			images = append(images, c)
		}
	}
	require.Len(t, images, 1, res.Text())
	assert.Equal(t, "image/png", images[0].MIMEType)
	assert.Equal(t, "\x89PNG\r\n\x1a\n", string(images[0].Data[:8]))
}

func TestSessionsAreBounded(t *testing.T) {
	e := newEnv(t, tools.WithMaxSessions(1))
	id := e.openSession(t)
	res := e.call(t, "session_open", `{}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "close one with session_close")
	assert.Len(t, e.live(), 1, "no sandbox for the refused session")
	require.False(t, e.call(t, "session_close", `{"session_id": "`+id+`"}`).IsError)
	e.openSession(t)
}

func TestCloseKillsEverySession(t *testing.T) {
	e := newEnv(t)
	e.openSession(t)
	e.openSession(t)
	assert.Len(t, e.live(), 2)
	require.NoError(t, e.set.Close())
	assert.Empty(t, e.live())
	res := e.call(t, "run_code", `{"code": "1"}`)
	assert.True(t, res.IsError)
	assert.Contains(t, res.Text(), "closed")
}

// fakeExec returns a primitive on the in-memory fake provider, closed when
// the test ends, for tests that need no sandbox to run.
func fakeExec(t *testing.T) *tta.CodeExecutionPrimitive {
	t.Helper()
	return testenv.FakeExec(t, ttatest.NewFakeProvider())
}
