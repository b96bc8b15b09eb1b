package localrt

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
)

// newTestRuntime returns a Runtime rooted in a temporary directory, closed
// when the test ends.
func newTestRuntime(t *testing.T, opts ...Option) *Runtime {
	t.Helper()
	rt, err := New(append([]Option{WithRoot(t.TempDir()), withInterruptGrace(time.Second)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	return rt
}

// startSandbox starts a sandbox of template (the default one when zero).
func startSandbox(t *testing.T, rt *Runtime, spec e2bserver.SandboxSpec) *instance {
	t.Helper()
	if spec.SandboxID == "" {
		spec.SandboxID = "sbx" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
	}
	if spec.Template.ID == "" {
		spec.Template = e2bserver.DefaultTemplates()[0]
	}
	inst, err := rt.Start(t.Context(), spec)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, inst.Close()) })
	return inst.(*instance)
}

// run executes code in the sandbox and returns its events.
func run(t *testing.T, in *instance, req wire.ExecuteRequest) []wire.ExecutionEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var evs []wire.ExecutionEvent
	require.NoError(t, in.Execute(ctx, req, func(ev wire.ExecutionEvent) error {
		evs = append(evs, ev)
		return nil
	}))
	return evs
}

// command runs a bash command line in the sandbox as envd would.
func command(t *testing.T, in *instance, line string) (stdout, stderr string, exit e2bserver.ProcessExit) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var out, errb strings.Builder
	exit, err := in.RunProcess(ctx, e2bserver.ProcessSpec{Cmd: "/bin/bash", Args: []string{"-l", "-c", line}}, e2bserver.ProcessHooks{
		Started: func(uint32) error { return nil },
		Output: func(s e2bserver.Stream, data []byte) error {
			if s == e2bserver.Stdout {
				out.Write(data)
			} else {
				errb.Write(data)
			}
			return nil
		},
	})
	require.NoError(t, err)
	return out.String(), errb.String(), exit
}

func TestRuntimeExecutesInTheSandboxHome(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{EnvVars: map[string]string{"TTA_SBX": "yes"}})
	assert.True(t, in.PortOpen(e2b.EnvdPort))
	assert.True(t, in.PortOpen(e2b.InterpreterPort))

	_, err := in.WriteFile(t.Context(), "/home/user/data.txt", strings.NewReader("from envd"))
	require.NoError(t, err)
	evs := run(t, in, wire.ExecuteRequest{Code: "import os\nopen('data.txt').read(), os.environ['TTA_SBX'], os.path.expanduser('~') == os.getcwd()"})
	assert.Equal(t, "('from envd', 'yes', True)", mainResult(t, evs).Text)

	evs = run(t, in, wire.ExecuteRequest{Code: "open('made.txt', 'w').write('by code')\nNone"})
	assert.Empty(t, ofType(evs, wire.EventError))
	rc, err := in.ReadFile(t.Context(), "/home/user/made.txt")
	require.NoError(t, err)
	data, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	assert.Equal(t, "by code", string(data))

	if rt.Isolation().Confined {
		evs = run(t, in, wire.ExecuteRequest{Code: "open('/home/user/data.txt').read(), open('/tmp/x', 'w').write('t')"})
		assert.Equal(t, "('from envd', 1)", mainResult(t, evs).Text, "absolute sandbox paths work in namespaces")
		_, err := in.Stat(t.Context(), "/tmp/x")
		assert.NoError(t, err, "/tmp is the sandbox's own")
	}
}

func TestRuntimeContexts(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	list, err := in.ListContexts(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 2, "python and javascript exist from the start")
	assert.Equal(t, langPython, list[0].Language)
	assert.Equal(t, langJavaScript, list[1].Language)

	run(t, in, wire.ExecuteRequest{Code: "x = 1"})
	info, err := in.CreateContext(t.Context(), wire.CreateContextRequest{Language: "python", Cwd: "/home/user/proj"})
	require.NoError(t, err)
	assert.Equal(t, "/home/user/proj", info.Cwd)
	evs := run(t, in, wire.ExecuteRequest{Code: "import os\n'x' in globals(), os.path.basename(os.getcwd())", ContextID: info.ID})
	assert.Equal(t, "(False, 'proj')", mainResult(t, evs).Text, "contexts have their own state and cwd")

	run(t, in, wire.ExecuteRequest{Code: "y = 2", ContextID: info.ID})
	require.NoError(t, in.RestartContext(t.Context(), info.ID))
	evs = run(t, in, wire.ExecuteRequest{Code: "y", ContextID: info.ID})
	assert.Equal(t, "NameError", singleError(t, evs).Name)

	require.NoError(t, in.RemoveContext(t.Context(), info.ID))
	err = in.Execute(t.Context(), wire.ExecuteRequest{Code: "1", ContextID: info.ID}, func(wire.ExecutionEvent) error { return nil })
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorIs(t, in.RemoveContext(t.Context(), info.ID), fs.ErrNotExist)
	assert.ErrorIs(t, in.RestartContext(t.Context(), "nope"), fs.ErrNotExist)

	_, err = in.CreateContext(t.Context(), wire.CreateContextRequest{Language: "typescript"})
	assert.ErrorIs(t, err, fs.ErrInvalid)

	evs = run(t, in, wire.ExecuteRequest{Code: "echo $HOME", Language: "bash"})
	assert.Equal(t, in.procEnv(defaultUser, nil)["HOME"]+"\n", text(evs, wire.EventStdout))
	list, err = in.ListContexts(t.Context())
	require.NoError(t, err)
	assert.Len(t, list, 3, "the bash default context appeared")

	evs = run(t, in, wire.ExecuteRequest{Code: "[1, 2].map(v => v * 2)", Language: "js"})
	assert.Equal(t, "[ 2, 4 ]", mainResult(t, evs).Text)
}

func TestRuntimeFilesystem(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	ctx := t.Context()

	fi, err := in.WriteFile(ctx, "/home/user/a/b/c.txt", strings.NewReader("abc"))
	require.NoError(t, err)
	assert.Equal(t, e2bserver.FileInfo{Name: "c.txt", Path: "/home/user/a/b/c.txt", Type: e2bserver.TypeFile, Size: 3, Mode: 0o644, ModTime: fi.ModTime}, fi)

	fi, err = in.Stat(ctx, "/home/user/a")
	require.NoError(t, err)
	assert.Equal(t, e2bserver.TypeDir, fi.Type)

	list, err := in.ListDir(ctx, "/home/user", 1)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "/home/user/a", list[0].Path)
	list, err = in.ListDir(ctx, "/home/user", 3)
	require.NoError(t, err)
	assert.Len(t, list, 3)

	_, err = in.MakeDir(ctx, "/home/user/a")
	assert.ErrorIs(t, err, fs.ErrExist)
	_, err = in.MakeDir(ctx, "/home/user/a/b/c.txt")
	assert.ErrorIs(t, err, fs.ErrInvalid)
	fi, err = in.MakeDir(ctx, "/home/user/new/dir")
	require.NoError(t, err)
	assert.Equal(t, "dir", fi.Name)

	fi, err = in.Move(ctx, "/home/user/a/b/c.txt", "/home/user/moved/c2.txt")
	require.NoError(t, err)
	assert.Equal(t, "/home/user/moved/c2.txt", fi.Path)
	_, err = in.Stat(ctx, "/home/user/a/b/c.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	_, err = in.ReadFile(ctx, "/home/user/a")
	assert.ErrorIs(t, err, fs.ErrInvalid)
	_, err = in.WriteFile(ctx, "/home/user/a", strings.NewReader("x"))
	assert.ErrorIs(t, err, fs.ErrInvalid)
	_, err = in.ListDir(ctx, "/home/user/moved/c2.txt", 1)
	assert.ErrorIs(t, err, fs.ErrInvalid)

	require.NoError(t, in.Remove(ctx, "/home/user/a"))
	assert.ErrorIs(t, in.Remove(ctx, "/home/user/a"), fs.ErrNotExist)
	assert.ErrorIs(t, in.Remove(ctx, "/"), fs.ErrPermission)

	_, err = in.WriteFile(ctx, "/etc/hosts", strings.NewReader("mine"))
	require.NoError(t, err, "every sandbox path lives in the sandbox")
	host, err := os.ReadFile("/etc/hosts")
	require.NoError(t, err)
	assert.NotEqual(t, "mine", string(host))
}

func TestRuntimeFilesystemConfinement(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	ctx := t.Context()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("host secret"), 0o600))

	// Links made by code in the sandbox, pointing out of it.
	home := filepath.Join(in.dir, "home", "user")
	require.NoError(t, os.Symlink(secret, filepath.Join(home, "abs-link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(home, "abs-dir")))
	rel, err := filepath.Rel(home, outside)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(rel, filepath.Join(home, "rel-dir")))

	tests := []struct {
		name string
		op   func() error
	}{
		{"dot-dot read", func() error { _, err := in.ReadFile(ctx, "/home/user/../../../../etc/passwd"); return err }},
		{"dot-dot relative", func() error { _, err := in.ReadFile(ctx, "../../etc/passwd"); return err }},
		{"dot-dot write", func() error {
			_, err := in.WriteFile(ctx, "/home/user/../../../x", strings.NewReader("x"))
			return err
		}},
		{"absolute symlink read", func() error { _, err := in.ReadFile(ctx, "/home/user/abs-link"); return err }},
		{"symlinked dir read", func() error { _, err := in.ReadFile(ctx, "/home/user/abs-dir/secret"); return err }},
		{"relative symlink escape read", func() error { _, err := in.ReadFile(ctx, "/home/user/rel-dir/secret"); return err }},
		{"symlink escape write", func() error {
			_, err := in.WriteFile(ctx, "/home/user/rel-dir/planted", strings.NewReader("x"))
			return err
		}},
		{"symlink escape list", func() error { _, err := in.ListDir(ctx, "/home/user/rel-dir", 1); return err }},
		{"symlink escape mkdir", func() error { _, err := in.MakeDir(ctx, "/home/user/rel-dir/d"); return err }},
		{"symlink escape move", func() error {
			_, err := in.Move(ctx, "/home/user/rel-dir/secret", "/home/user/stolen")
			return err
		}},
		{"symlink escape remove", func() error { return in.Remove(ctx, "/home/user/rel-dir/secret") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			require.Error(t, err)
			assert.ErrorIs(t, err, fs.ErrPermission)
			assert.Contains(t, err.Error(), "escapes the sandbox")
			assert.NotContains(t, err.Error(), in.dir, "host paths are not revealed")
		})
	}
	data, err := os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "host secret", string(data), "nothing outside was touched")
	_, err = os.Stat(filepath.Join(outside, "planted"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	fi, err := in.Stat(ctx, "/home/user/abs-link")
	require.NoError(t, err, "a link itself can be described")
	assert.Equal(t, e2bserver.TypeSymlink, fi.Type)
	assert.Equal(t, secret, fi.SymlinkTarget)
}

func TestRuntimeProcesses(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{EnvVars: map[string]string{"TTA_P": "p"}})
	stdout, stderr, exit := command(t, in, "echo \"$TTA_P\"; echo err >&2; [ \"$PWD\" = \"$HOME\" ] && echo home; exit 4")
	assert.Equal(t, "p\nhome\n", stdout)
	assert.Equal(t, "err\n", stderr)
	assert.Equal(t, e2bserver.ProcessExit{ExitCode: 4, Exited: true, Status: "exit status 4"}, exit)

	// Signal a running process through SignalProcess.
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	pids := make(chan uint32, 1)
	done := make(chan e2bserver.ProcessExit, 1)
	go func() {
		exit, err := in.RunProcess(ctx, e2bserver.ProcessSpec{Cmd: "/bin/bash", Args: []string{"-c", "echo up; exec sleep 300"}}, e2bserver.ProcessHooks{
			Started: func(pid uint32) error { pids <- pid; return nil },
			Output:  func(e2bserver.Stream, []byte) error { return nil },
		})
		assert.NoError(t, err)
		done <- exit
	}()
	pid := <-pids
	list, err := in.ListProcesses(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, pid, list[0].PID)
	require.NoError(t, in.SignalProcess(t.Context(), pid, e2bserver.SIGTERM))
	assert.Equal(t, e2bserver.ProcessExit{ExitCode: -1, Exited: false, Status: "signal: terminated"}, <-done)
	assert.ErrorIs(t, in.SignalProcess(t.Context(), pid, e2bserver.SIGKILL), fs.ErrNotExist)

	// Cancelling the call kills the process.
	ctx2, cancel2 := context.WithCancel(t.Context())
	var once sync.Once
	_, err = in.RunProcess(ctx2, e2bserver.ProcessSpec{Cmd: "/bin/bash", Args: []string{"-c", "echo go; sleep 300"}}, e2bserver.ProcessHooks{
		Started: func(uint32) error { return nil },
		Output: func(e2bserver.Stream, []byte) error {
			once.Do(cancel2)
			return nil
		},
	})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRuntimeCloseKillsEverything(t *testing.T) {
	rt := newTestRuntime(t)
	inst, err := rt.Start(t.Context(), e2bserver.SandboxSpec{SandboxID: "close", Template: e2bserver.DefaultTemplates()[0]})
	require.NoError(t, err)
	in := inst.(*instance)

	evs := run(t, in, wire.ExecuteRequest{Code: "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True).pid"})
	inner, err := strconv.Atoi(mainResult(t, evs).Text)
	require.NoError(t, err)

	pids := make(chan uint32, 1)
	done := make(chan error, 1)
	go func() {
		_, err := in.RunProcess(t.Context(), e2bserver.ProcessSpec{Cmd: "/bin/bash", Args: []string{"-c", "sleep 300"}}, e2bserver.ProcessHooks{
			Started: func(pid uint32) error { pids <- pid; return nil },
			Output:  func(e2bserver.Stream, []byte) error { return nil },
		})
		done <- err
	}()
	proc := <-pids
	k, err := in.kernel(t.Context(), in.contexts[in.defaults[langPython]])
	require.NoError(t, err)
	driver := k.pgids()[0]

	require.NoError(t, in.Close())
	require.NoError(t, in.Close(), "Close is idempotent")
	assert.Error(t, <-done)
	assert.True(t, testenv.ProcessExited(t, int(proc), 5*time.Second), "envd process still runs")
	assert.True(t, testenv.ProcessExited(t, driver, 5*time.Second), "kernel still runs")
	if rt.Isolation().Confined {
		// inner is a pid in the kernel's namespace; the whole namespace died
		// with its init, which the check on driver covered.
		_ = inner
	} else {
		assert.True(t, testenv.ProcessExited(t, inner, 5*time.Second), "a process that left the group still runs")
	}
	_, err = os.Stat(in.dir)
	assert.ErrorIs(t, err, fs.ErrNotExist, "the sandbox directory is removed")
	assert.False(t, in.PortOpen(e2b.EnvdPort))
	_, err = in.ListContexts(t.Context())
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRuntimeBaseTemplateHasNoInterpreter(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{Template: e2bserver.DefaultTemplates()[1]})
	assert.True(t, in.PortOpen(e2b.EnvdPort))
	assert.False(t, in.PortOpen(e2b.InterpreterPort))
	stdout, _, exit := command(t, in, "echo envd works")
	assert.Equal(t, "envd works\n", stdout)
	assert.True(t, exit.Exited)
}

// waitSetup waits until the setup of in has ended, by waiting for its
// goroutines.
func waitSetup(in *instance) { in.wg.Wait() }

func TestRuntimeSetupBeforePortOpens(t *testing.T) {
	// The second command waits until the test writes "gate" through envd:
	// until then the port must stay closed, however long that takes.
	tc := TemplateConfig{
		Name:    "tta-ml-minimal",
		Setup:   []string{"echo installing", "until [ -e gate ]; do sleep 0.01; done", "echo \"$TTA_TPL\" > tpl"},
		EnvVars: map[string]string{"TTA_TPL": "from template"},
	}
	rt := newTestRuntime(t, WithTemplates(tc))
	in := startSandbox(t, rt, e2bserver.SandboxSpec{Template: tc.Template()})
	assert.True(t, in.PortOpen(e2b.EnvdPort), "envd serves during setup")
	assert.False(t, in.PortOpen(e2b.InterpreterPort), "the interpreter waits for setup")
	stdout, _, _ := command(t, in, "echo envd runs commands meanwhile")
	assert.Equal(t, "envd runs commands meanwhile\n", stdout)
	assert.False(t, in.PortOpen(e2b.InterpreterPort))

	_, err := in.WriteFile(t.Context(), "/home/user/gate", strings.NewReader(""))
	require.NoError(t, err)
	waitSetup(in)
	assert.True(t, in.PortOpen(e2b.InterpreterPort), "open once setup succeeded")

	evs := run(t, in, wire.ExecuteRequest{Code: "import os\nos.environ['TTA_TPL']"})
	assert.Equal(t, "from template", mainResult(t, evs).Text)
	log, err := in.root.ReadFile("tmp/tta-setup.log")
	require.NoError(t, err)
	assert.Contains(t, string(log), "installing")
	tpl, err := in.root.ReadFile("home/user/tpl")
	require.NoError(t, err)
	assert.Equal(t, "from template\n", string(tpl))
}

func TestRuntimeFailingSetupKeepsThePortClosed(t *testing.T) {
	tc := TemplateConfig{Name: "broken", Setup: []string{"echo trying", "echo 'no such package' >&2; exit 1", "echo never"}}
	rt := newTestRuntime(t, WithTemplates(tc))
	in := startSandbox(t, rt, e2bserver.SandboxSpec{Template: tc.Template()})
	waitSetup(in)
	assert.False(t, in.PortOpen(e2b.InterpreterPort), "closed for good")
	assert.True(t, in.PortOpen(e2b.EnvdPort))
	log, err := in.root.ReadFile("tmp/tta-setup.log")
	require.NoError(t, err)
	assert.Contains(t, string(log), "no such package")
	assert.Contains(t, string(log), "setup failed: command 2")
	assert.NotContains(t, string(log), "never")
}

func TestRuntimeWithoutIsolation(t *testing.T) {
	rt := newTestRuntime(t, WithoutIsolation())
	iso := rt.Isolation()
	assert.False(t, iso.Confined)
	assert.Contains(t, iso.Reason, "WithoutIsolation")
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	_, err := in.WriteFile(t.Context(), "data.txt", strings.NewReader("relative"))
	require.NoError(t, err)
	evs := run(t, in, wire.ExecuteRequest{Code: "import os\nopen(os.path.expanduser('~/data.txt')).read()"})
	assert.Equal(t, "relative", mainResult(t, evs).Text)
	stdout, _, _ := command(t, in, "cat data.txt")
	assert.Equal(t, "relative", stdout)
}

func TestRuntimeLimits(t *testing.T) {
	rt := newTestRuntime(t, WithLimits(Limits{FileSize: 1 << 20, OpenFiles: 64}))
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	evs := run(t, in, wire.ExecuteRequest{Code: "import resource\nresource.getrlimit(resource.RLIMIT_FSIZE), resource.getrlimit(resource.RLIMIT_NOFILE)"})
	assert.Equal(t, "((1048576, 1048576), (64, 64))", mainResult(t, evs).Text)
	evs = run(t, in, wire.ExecuteRequest{Code: "open('big', 'wb').write(b'x' * (2 << 20))"})
	assert.Equal(t, "OSError", singleError(t, evs).Name, "file size limit")
	stdout, _, _ := command(t, in, "ulimit -n")
	assert.Equal(t, "64\n", stdout)
}

func TestParseTemplates(t *testing.T) {
	ts, err := ParseTemplates([]byte(`{"templates": [{"name": "ml", "setup": ["pip install x"], "env": {"A": "1"}}, {"id": "abc", "no_interpreter": true}]}`))
	require.NoError(t, err)
	require.Len(t, ts, 2)
	assert.Equal(t, e2bserver.Template{ID: "local-ml", Alias: "ml"}, ts[0].Template())
	assert.Equal(t, []string{"pip install x"}, ts[0].Setup)
	assert.Equal(t, e2bserver.Template{ID: "abc", NoInterpreter: true}, ts[1].Template())

	for _, bad := range []string{
		`{"templates": [{"setup": ["x"]}]}`,
		`{"templates": [{"name": "a"}, {"name": "a"}]}`,
		`{"templates": [{"name": "a", "stup": []}]}`,
		`not json`,
	} {
		_, err := ParseTemplates([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Option{WithRoot(""), WithLimits(Limits{Memory: -1}), withInterruptGrace(0), WithTemplates(TemplateConfig{}), nil} {
		_, err := New(o)
		assert.Error(t, err)
	}
}

func TestRuntimePauseResume(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	run(t, in, wire.ExecuteRequest{Code: "x = 3"})

	// The Server cancels running executions, then pauses: the interrupted
	// kernel must not be frozen halfway.
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- in.Execute(ctx, wire.ExecuteRequest{Code: "print('busy', flush=True)\nwhile True: pass"}, func(ev wire.ExecutionEvent) error {
			if ev.Type == wire.EventStdout {
				once.Do(func() { close(started) })
			}
			return nil
		})
	}()
	<-started
	cancel()
	require.NoError(t, in.Pause(t.Context()))
	assert.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, in.Resume(t.Context()))
	assert.Equal(t, "3", mainResult(t, run(t, in, wire.ExecuteRequest{Code: "x"})).Text, "state survives a pause")
	require.NoError(t, in.Close())
	assert.ErrorIs(t, in.Pause(t.Context()), fs.ErrNotExist)
}

func TestProcessExit(t *testing.T) {
	tests := []struct {
		name     string
		code     string // bash -c
		sent     syscall.Signal
		launched bool
		want     e2bserver.ProcessExit
	}{
		{"success", "exit 0", 0, false, e2bserver.ProcessExit{ExitCode: 0, Exited: true, Status: "exit status 0"}},
		{"failure", "exit 3", 0, false, e2bserver.ProcessExit{ExitCode: 3, Exited: true, Status: "exit status 3"}},
		{"killed", "kill -KILL $$", 0, false, e2bserver.ProcessExit{ExitCode: -1, Status: "signal: killed"}},
		{"launcher relays a sent signal", "exit 143", syscall.SIGTERM, true, e2bserver.ProcessExit{ExitCode: -1, Status: "signal: terminated"}},
		{"no signal sent: a plain exit code", "exit 143", 0, true, e2bserver.ProcessExit{ExitCode: 143, Exited: true, Status: "exit status 143"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exec.Command("bash", "-c", tt.code).Run()
			assert.Equal(t, tt.want, processExit(err, tt.sent, tt.launched))
		})
	}
}

func TestRuntimeStartReturnsWithTheKernelUp(t *testing.T) {
	rt := newTestRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	c := in.contexts[in.defaults[langPython]]
	require.True(t, c.mu.TryLock(), "the default kernel is still starting after Start returned")
	k := c.k
	c.mu.Unlock()
	assert.NotNil(t, k, "as on E2B, a created sandbox's default kernel is up")
}
