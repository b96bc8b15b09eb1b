package localrt

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
)

// forkingRuntime returns a test Runtime whose Python kernels are forked
// from its fork server, or skips the test.
func forkingRuntime(t *testing.T, opts ...Option) *Runtime {
	t.Helper()
	rt := confinedRuntime(t, opts...)
	if !rt.confinement().privileged {
		t.Skip("kernels are forked for a root server only")
	}
	startSandbox(t, rt, e2bserver.SandboxSpec{}) // starts the fork server
	require.Equal(t, "Python kernels forked from a warm interpreter, then confined", rt.Isolation().Kernels)
	return rt
}

// result runs code and returns its main result's text, or the error's name.
func result(t *testing.T, in *instance, code string) string {
	t.Helper()
	evs := run(t, in, wire.ExecuteRequest{Code: code})
	if errs := ofType(evs, wire.EventError); len(errs) > 0 {
		return errs[0].Name + ": " + errs[0].Value
	}
	return mainResult(t, evs).Text
}

func TestForkedKernelsShareNothing(t *testing.T) {
	rt := forkingRuntime(t)
	a := startSandbox(t, rt, e2bserver.SandboxSpec{})
	b := startSandbox(t, rt, e2bserver.SandboxSpec{})

	assert.Equal(t, "ok", result(t, a, "secret = 'from a'\nopen('/home/user/a.txt', 'w').write('a')\nimport subprocess\nsubprocess.Popen(['sleep', '30'])\n'ok'"))
	assert.Equal(t, "(False, False, [])", result(t, b, `import os
'secret' in globals(), os.path.exists('/home/user/a.txt'), [p for p in os.listdir('/proc') if p.isdigit() and open('/proc/%s/cmdline' % p).read().startswith('sleep')]`),
		"b sees a's variables, files or processes")
	assert.Equal(t, "1", result(t, b, "import os\nos.getpid()"), "each kernel is its pid namespace's first process")

	draw := "import random, os\nrandom.random(), os.urandom(8).hex()"
	ra, rb := result(t, a, draw), result(t, b, draw)
	assert.NotEqual(t, ra, rb, "two forked kernels drew the same random numbers")
	ra2 := result(t, startSandbox(t, rt, e2bserver.SandboxSpec{}), "import random\nrandom.random()")
	assert.NotEqual(t, strings.Split(strings.Trim(ra, "()"), ",")[0], ra2, "random is seeded anew in every kernel")
}

func TestForkedKernelHoldsNoDescriptorOfTheServer(t *testing.T) {
	rt := forkingRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	got := result(t, in, `import os
fds = {}
for fd in os.listdir('/proc/self/fd'):
    try:
        fds[int(fd)] = os.readlink('/proc/self/fd/' + fd)
    except OSError:
        pass  # the listing's own descriptor, closed by now
sorted(t for t in fds.values() if t != '/dev/null' and not t.startswith('pipe:'))`)
	assert.Equal(t, "[]", got, "descriptors other than the kernel's own pipes and /dev/null: sockets, pidfds, files")
}

func TestKillingAForkedSandboxLeavesNoProcess(t *testing.T) {
	rt := forkingRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, "ok", result(t, in, "import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True)\n'ok'"))
	k, err := in.kernel(t.Context(), in.contexts[in.defaults[langPython]])
	require.NoError(t, err)
	waiter := k.pgids()[0]
	pids := in.cgroup.pids()
	require.GreaterOrEqual(t, len(pids), 3, "the waiter, the kernel and its sleep: %v", pids)
	require.NoError(t, in.Close())
	for _, pid := range append(pids, waiter) {
		assert.True(t, testenv.ProcessExited(t, pid, 5*time.Second), "process %d outlived its sandbox", pid)
	}
}

func TestKernelsStartAsProcessesWhenTheForkServerFails(t *testing.T) {
	var logged testenv.Buffer
	rt := forkingRuntime(t, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	rt.mu.Lock()
	z := rt.zyg
	rt.mu.Unlock()
	require.NoError(t, z.cmd.Process.Kill())
	require.Eventually(t, func() bool { return z.gone() != nil && strings.Contains(z.gone().Error(), "ended") },
		5*time.Second, 10*time.Millisecond)

	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, "(1000, '2')", result(t, in, "import os\nos.getuid(), str(1 + 1)"), "the kernel started as a process of its own")
	assert.Contains(t, rt.Isolation().Kernels, "each a new process (the fork server failed: ")
	startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, 1, strings.Count(logged.String(), "level=WARN"), "said once: %s", logged.String())
	assert.Contains(t, logged.String(), "Python kernels now start as processes of their own")
}

func TestWithoutForkServer(t *testing.T) {
	rt := confinedRuntime(t, WithoutForkServer())
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, "2", result(t, in, "1 + 1"))
	assert.Equal(t, "each a new process", rt.Isolation().Kernels)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	assert.Nil(t, rt.zyg, "a fork server started")
}

func TestForkedKernelHasNoCapabilities(t *testing.T) {
	rt := forkingRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, "['CapPrm:\\t0000000000000000', 'CapEff:\\t0000000000000000', 'CapAmb:\\t0000000000000000']",
		result(t, in, "[l for l in open('/proc/self/status').read().splitlines() if l.startswith(('CapPrm', 'CapEff', 'CapAmb'))]"))
}

func TestForkedKernelImportsFromItsUsersSitePackages(t *testing.T) {
	tc := TemplateConfig{Name: "usersite", Setup: []string{
		`python3 -c 'import os, site; d = site.getusersitepackages(); os.makedirs(d); open(d + "/ttausersite.py", "w").write("X = 7")'`,
	}}
	rt := forkingRuntime(t, WithTemplates(tc))
	in := startSandbox(t, rt, e2bserver.SandboxSpec{Template: tc.Template()})
	waitSetup(in)
	assert.Equal(t, "7", result(t, in, "import ttausersite\nttausersite.X"))
	assert.Equal(t, "False", result(t, in, "import sys\nany(p.startswith('/root/') and 'site-packages' in p and '.local' in p for p in sys.path)"),
		"the fork server's own user site is on the path")
}
