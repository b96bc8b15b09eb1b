package localrt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/wire"
)

// confinedRuntime returns a test Runtime whose sandboxes are confined, or
// skips the test with the reason they cannot be here.
func confinedRuntime(t *testing.T, opts ...Option) *Runtime {
	t.Helper()
	rt := newTestRuntime(t, opts...)
	if iso := rt.Isolation(); !iso.Confined {
		t.Skipf("sandboxes cannot be confined here: %s", iso.Reason)
	}
	return rt
}

// hostListener listens on the host's 127.0.0.1 and answers every
// connection with "host"; it returns the port.
func hostListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go serveWord(ln, "host")
	return ln.Addr().(*net.TCPAddr).Port
}

// serveWord answers every connection to ln with word until ln closes.
func serveWord(ln net.Listener, word string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte(word))
		c.Close()
	}
}

// connectPy is Python that tries to connect to host:port and evaluates to
// what it read, or the exception's name.
func connectPy(host string, port int) string {
	return fmt.Sprintf(`
import socket
def _try():
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((%q, %d))
        return s.recv(16).decode()
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
_try()`, host, port)
}

func TestConfinedSandboxEscapesFail(t *testing.T) {
	rt := confinedRuntime(t)
	// A secret on the host, outside any sandbox, and one in another sandbox.
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("host secret"), 0o644))
	other := startSandbox(t, rt, e2bserver.SandboxSpec{})
	_, err := other.WriteFile(t.Context(), "/home/user/mine.txt", strings.NewReader("other's"))
	require.NoError(t, err)
	otherHost := filepath.Join(other.dir, "home/user/mine.txt")
	port := hostListener(t)

	no, yes := false, true
	for name, internet := range map[string]*bool{"offline": &no, "internet": &yes} {
		t.Run(name, func(t *testing.T) {
			in := startSandbox(t, rt, e2bserver.SandboxSpec{AllowInternetAccess: internet})

			t.Run("python", func(t *testing.T) {
				probes := map[string]string{
					"shadow":       "open('/etc/shadow').read()",
					"root":         "import os\nos.listdir('/root')",
					"home":         "import os\nos.listdir('/home')",
					"host secret":  fmt.Sprintf("open(%q).read()", secret),
					"state dir":    fmt.Sprintf("import os\nos.listdir(%q)", rt.root),
					"other":        fmt.Sprintf("open(%q).read()", otherHost),
					"symlink to /": fmt.Sprintf("import os\nos.symlink('/', '/home/user/up')\nopen('/home/user/up' + %q).read()", secret),
					"write /usr":   "open('/usr/tta-escape', 'w').write('x')",
					"write /":      "open('/tta-escape', 'w').write('x')",
					"write /etc":   "open('/etc/passwd', 'a').write('x')",
					"host pid":     fmt.Sprintf("import os\nos.kill(%d, 0)", os.Getpid()),
					"processes":    "import os\nlen([p for p in os.listdir('/proc') if p.isdigit()]) < 10 or 'many'",
					"loopback":     connectPy("127.0.0.1", port),
					"uid":          "import os\nos.getuid(), os.getgid(), os.path.expanduser('~')",
				}
				want := map[string]string{
					"shadow":       "FileNotFoundError",
					"root":         "PermissionError",
					"home":         "['user']",
					"host secret":  "FileNotFoundError",
					"state dir":    "FileNotFoundError",
					"other":        "FileNotFoundError",
					"symlink to /": "FileNotFoundError",
					"write /usr":   "OSError", // read-only file system
					"write /":      "OSError",
					"write /etc":   "OSError",
					"host pid":     "ProcessLookupError",
					"processes":    "True",
					"loopback":     "ConnectionRefusedError",
					"uid":          "(1000, 1000, '/home/user')",
				}
				for what, code := range probes {
					evs := run(t, in, wire.ExecuteRequest{Code: code})
					got := ""
					if errs := ofType(evs, wire.EventError); len(errs) > 0 {
						got = errs[0].Name
					} else if r := ofType(evs, wire.EventResult); len(r) > 0 {
						got = r[0].Text
					}
					if want[what] == "OSError" && (got == "PermissionError" || got == "OSError") {
						continue
					}
					if what == "root" && got == "[]" {
						continue // an unprivileged server's sandbox: its own, empty /root
					}
					assert.Equal(t, want[what], got, what)
				}
			})

			t.Run("bash", func(t *testing.T) {
				for what, line := range map[string]string{
					"shadow":       "cat /etc/shadow",
					"root":         "ls -A /root | grep .",
					"host secret":  "cat " + secret,
					"state dir":    "ls " + rt.root,
					"other":        "cat " + otherHost,
					"symlink to /": "ln -sf / up && cat up" + secret,
					"write /usr":   "echo x > /usr/tta-escape",
					"write /":      "echo x > /tta-escape",
					"host pid":     "kill -0 " + strconv.Itoa(os.Getpid()),
					"loopback":     fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && cat <&3", port),
				} {
					stdout, _, exit := command(t, in, line)
					assert.NotEqual(t, int32(0), exit.ExitCode, "%s succeeded: %q", what, stdout)
					assert.NotContains(t, stdout, "secret", what)
					assert.NotContains(t, stdout, "host", what)
				}
				stdout, _, _ := command(t, in, "ls /home; id -u; id -un; grep -E '^Cap(Prm|Eff)' /proc/self/status")
				assert.Equal(t, "user\n1000\nuser\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n", stdout)
			})

			t.Run("files", func(t *testing.T) {
				for _, p := range []string{"/etc/shadow", "/etc/passwd", "/usr/bin/env", secret, otherHost} {
					_, err := in.ReadFile(t.Context(), p)
					assert.Error(t, err, p)
				}
				list, err := in.ListDir(t.Context(), "/home", 1)
				require.NoError(t, err)
				require.Len(t, list, 1)
				assert.Equal(t, "/home/user", list[0].Path)
			})
		})
	}
	_, err = os.Stat("/usr/tta-escape")
	assert.ErrorIs(t, err, os.ErrNotExist, "a sandbox wrote to the host's /usr")
}

func TestConfinedFilesBelongToTheSandboxUser(t *testing.T) {
	rt := confinedRuntime(t)
	in := startSandbox(t, rt, e2bserver.SandboxSpec{})
	_, err := in.WriteFile(t.Context(), "/home/user/sub/dir/data.txt", strings.NewReader("from envd"))
	require.NoError(t, err)
	stdout, _, exit := command(t, in, "echo more >> sub/dir/data.txt && stat -c '%U %n' sub sub/dir sub/dir/data.txt && cat sub/dir/data.txt")
	assert.Equal(t, int32(0), exit.ExitCode)
	assert.Equal(t, "user sub\nuser sub/dir\nuser sub/dir/data.txt\nfrom envdmore\n", stdout)
}

func TestConfinedProcessesOfASandboxShareItsNetwork(t *testing.T) {
	rt := confinedRuntime(t)
	if !rt.Isolation().Internet && !rt.confinement().privileged {
		t.Skip("without root each process has a network namespace of its own")
	}
	no := false
	in := startSandbox(t, rt, e2bserver.SandboxSpec{AllowInternetAccess: &no})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan struct{})
	go func() {
		_, _ = in.RunProcess(ctx, e2bserver.ProcessSpec{Cmd: "python3", Args: []string{"-c", `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8123)); s.listen()
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"sibling"); c.close()`}}, e2bserver.ProcessHooks{
			Output: func(_ e2bserver.Stream, data []byte) error {
				if strings.Contains(string(data), "ready") {
					close(started)
				}
				return nil
			},
		})
	}()
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("the server process did not start")
	}
	evs := run(t, in, wire.ExecuteRequest{Code: connectPy("127.0.0.1", 8123)})
	assert.Equal(t, "sibling", mainResult(t, evs).Text, "the kernel reaches a server a command started")
}

// internetHost is a stand-in for the internet: a network namespace joined to
// the host's by a veth pair, 203.0.113.1 (the host's end) and 203.0.113.2
// (its own), with a server answering "internet" on 203.0.113.2:port.
func internetHost(t *testing.T) (port int) {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip(8) is not installed")
	}
	name := fmt.Sprintf("tta-inet-%d", os.Getpid())
	hostEnd, nsEnd := fmt.Sprintf("tta%dh", os.Getpid()%100000), fmt.Sprintf("tta%dn", os.Getpid()%100000)
	sh := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ip, args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	sh("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", name).Run() })
	sh("link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd)
	t.Cleanup(func() { _ = exec.Command(ip, "link", "del", hostEnd).Run() })
	sh("link", "set", nsEnd, "netns", name)
	sh("addr", "add", "203.0.113.1/24", "dev", hostEnd)
	sh("link", "set", hostEnd, "up")
	sh("-n", name, "addr", "add", "203.0.113.2/24", "dev", nsEnd)
	sh("-n", name, "link", "set", nsEnd, "up")
	sh("-n", name, "link", "set", "lo", "up")

	f, err := os.Open("/run/netns/" + name)
	require.NoError(t, err)
	defer f.Close()
	var ln net.Listener
	require.NoError(t, onLockedThread(func() error {
		if err := setns(f, syscall.CLONE_NEWNET); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", "203.0.113.2:0")
		return err
	}))
	t.Cleanup(func() { ln.Close() })
	go serveWord(ln, "internet")
	return ln.Addr().(*net.TCPAddr).Port
}

func TestConfinedInternetAccessReachesTheInternetOnly(t *testing.T) {
	rt := confinedRuntime(t)
	if iso := rt.Isolation(); !iso.Internet {
		t.Skipf("no internet access for sandboxes here: %s", iso.Network)
	}
	inetPort := internetHost(t) // before the sandbox: its routes block the host's addresses it sees
	hostPort := hostListener(t)
	yes, no := true, false
	open := startSandbox(t, rt, e2bserver.SandboxSpec{AllowInternetAccess: &yes})
	closed := startSandbox(t, rt, e2bserver.SandboxSpec{AllowInternetAccess: &no})

	for _, c := range []struct {
		in         *instance
		host       string
		port       int
		want, what string
	}{
		{open, "203.0.113.2", inetPort, "internet", "a server on the internet"},
		{closed, "203.0.113.2", inetPort, "OSError", "the internet, without internet access"},
		{open, "127.0.0.1", hostPort, "ConnectionRefusedError", "the host's loopback (its own instead)"},
		{open, "10.0.2.2", hostPort, "OSError", "the host's loopback through the gateway"},
		{open, "203.0.113.1", hostPort, "OSError", "a host address"},
	} {
		got := mainResult(t, run(t, c.in, wire.ExecuteRequest{Code: connectPy(c.host, c.port)})).Text
		if c.want == "OSError" { // unreachable, refused or timed out: any failure to connect
			assert.True(t, strings.HasSuffix(got, "Error"), "%s: %q", c.what, got)
			continue
		}
		assert.Equal(t, c.want, got, c.what)
	}
}

func TestConfinedSandboxAtItsLimitsFailsAlone(t *testing.T) {
	limits := Limits{Memory: 256 << 20, Processes: 64, CPU: 1, Disk: 32 << 20, FileSize: 1 << 30, OpenFiles: 256}
	rt := confinedRuntime(t, WithLimits(limits))
	if iso := rt.Isolation(); len(iso.Unenforced) > 0 {
		t.Skipf("limits not enforced here: %v", iso.Unenforced)
	}
	greedy := startSandbox(t, rt, e2bserver.SandboxSpec{})
	calm := startSandbox(t, rt, e2bserver.SandboxSpec{})
	run(t, calm, wire.ExecuteRequest{Code: "1"}) // its kernel is up

	// answers checks that calm still computes 1+1 within a second.
	answers := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var result string
		err := calm.Execute(ctx, wire.ExecuteRequest{Code: "1+1"}, func(ev wire.ExecutionEvent) error {
			if ev.Type == wire.EventResult {
				result = ev.Text
			}
			return nil
		})
		assert.NoError(t, err, "the other sandbox while %s", what)
		assert.Equal(t, "2", result, "the other sandbox while %s", what)
	}

	t.Run("fork bomb", func(t *testing.T) {
		before := len(greedy.cgroup.pids()) // its kernel
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = greedy.RunProcess(ctx, e2bserver.ProcessSpec{Cmd: "/bin/bash", Args: []string{"-c", "bomb() { bomb | bomb & }; bomb; sleep 10"}}, e2bserver.ProcessHooks{})
		}()
		require.Eventually(t, func() bool { return len(greedy.cgroup.pids()) >= int(limits.Processes)/2 },
			2*time.Second, 10*time.Millisecond, "the bomb did not grow")
		answers("a fork bomb runs")
		assert.LessOrEqual(t, len(greedy.cgroup.pids()), int(limits.Processes), "processes of the bomb")
		<-done
		assert.Eventually(t, func() bool { return len(greedy.cgroup.pids()) == before },
			2*time.Second, 10*time.Millisecond, "the bomb outlived its command")
	})

	t.Run("memory", func(t *testing.T) {
		evs := run(t, greedy, wire.ExecuteRequest{Code: "x = b'x' * (20 * 2**30)\nlen(x)"})
		errs := ofType(evs, wire.EventError)
		require.NotEmpty(t, errs, "a 20 GiB allocation succeeded")
		t.Logf("20 GiB allocation: %s: %s", errs[0].Name, errs[0].Value)
		answers("another hit its memory limit")
	})

	t.Run("disk", func(t *testing.T) {
		_, stderr, exit := command(t, greedy, "head -c 100000000 /dev/zero > /home/user/fill")
		assert.NotEqual(t, int32(0), exit.ExitCode)
		assert.Contains(t, stderr, "No space left on device")
		answers("another's disk is full")
	})

	// The greedy sandbox itself recovers: its kernel restarts, it computes.
	evs := run(t, greedy, wire.ExecuteRequest{Code: "1+1"})
	assert.Equal(t, "2", mainResult(t, evs).Text)

	cg := greedy.cgroup
	require.NoError(t, greedy.Close())
	assert.Empty(t, cg.pids(), "processes left after the sandbox was killed")
	for _, d := range cg.dirs {
		_, err := os.Stat(d)
		assert.ErrorIs(t, err, os.ErrNotExist, "cgroup left: %s", d)
	}
	_, err := os.Stat(greedy.dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the sandbox's disk is left")
}

func TestConfinedRuntimeSweepsWhatADeadServerLeft(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a root server mounts sandbox disks")
	}
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	pid := dead.Process.Pid // exited and reaped: no process has it now
	root := t.TempDir()
	stale := filepath.Join(root, fmt.Sprintf("%d.sbx-1234", pid))
	require.NoError(t, os.MkdirAll(stale, 0o700))
	require.NoError(t, mountDisk(stale, 1<<20))
	staleLaunch := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-1234", launchPrefix, pid))
	require.NoError(t, os.MkdirAll(filepath.Join(staleLaunch, "sbx.root"), 0o700))
	require.NoError(t, mountDisk(filepath.Join(staleLaunch, "sbx.root"), 1<<20))
	live := filepath.Join(root, fmt.Sprintf("%d.sbx-5678", os.Getpid()))
	require.NoError(t, os.MkdirAll(live, 0o700))

	confinedRuntime(t, WithRoot(root)) // deciding its isolation sweeps first
	_, err := os.Stat(stale)
	assert.ErrorIs(t, err, os.ErrNotExist, "the dead server's sandbox is swept")
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), stale, "its disk is unmounted")
	_, err = os.Stat(staleLaunch)
	assert.ErrorIs(t, err, os.ErrNotExist, "the dead server's roots are swept")
	assert.NotContains(t, string(mounts), staleLaunch, "and unmounted")
	_, err = os.Stat(live)
	assert.NoError(t, err, "a live server's sandbox stays")
}

func TestRemoveMountedNeverDeletesThroughABind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	host := t.TempDir() // stands for a host directory bound into a root
	require.NoError(t, os.WriteFile(filepath.Join(host, "keep"), []byte("x"), 0o644))
	dir := t.TempDir()
	bound := filepath.Join(dir, "root", "usr")
	require.NoError(t, os.MkdirAll(bound, 0o755))
	require.NoError(t, mountDisk(filepath.Join(dir, "root"), 1<<20))
	require.NoError(t, os.MkdirAll(bound, 0o755))
	require.NoError(t, syscall.Mount(host, bound, "", syscall.MS_BIND, ""))

	require.NoError(t, removeMounted(dir))
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist)
	data, err := os.ReadFile(filepath.Join(host, "keep"))
	require.NoError(t, err, "a file of the bound directory was removed")
	assert.Equal(t, "x", string(data))
	left, err := mountsUnder(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestConfinedNetworkIsReusedCleanAfterItsSandboxEnded(t *testing.T) {
	rt := confinedRuntime(t)
	if iso := rt.Isolation(); !iso.Internet {
		t.Skipf("no internet access for sandboxes here: %s", iso.Network)
	}
	nsOf := func(in *instance) string {
		return result(t, in, "import os\nos.readlink('/proc/self/ns/net')")
	}
	a := startSandbox(t, rt, e2bserver.SandboxSpec{})
	first := nsOf(a)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	listening := make(chan struct{})
	go func() {
		_, _ = a.RunProcess(ctx, e2bserver.ProcessSpec{Cmd: "python3", Args: []string{"-c", `
import socket
s = socket.socket(); s.bind(("127.0.0.1", 8124)); s.listen()
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"from a"); c.close()`}}, e2bserver.ProcessHooks{
			Output: func(_ e2bserver.Stream, data []byte) error {
				if strings.Contains(string(data), "ready") {
					close(listening)
				}
				return nil
			},
		})
	}()
	select {
	case <-listening:
	case <-time.After(testTimeout):
		t.Fatal("a's server did not start")
	}
	require.NoError(t, a.Close())

	b := startSandbox(t, rt, e2bserver.SandboxSpec{})
	assert.Equal(t, first, nsOf(b), "the ended sandbox's network is reused")
	assert.Equal(t, "ConnectionRefusedError", result(t, b, connectPy("127.0.0.1", 8124)), "a's server outlived a")
	assert.Equal(t, "bound", result(t, b, "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 8124))\n'bound'"))
}

func TestNetPoolDropsANetworkWhoseRoutesAreStale(t *testing.T) {
	rt := confinedRuntime(t)
	if iso := rt.Isolation(); !iso.Internet {
		t.Skipf("no internet access for sandboxes here: %s", iso.Network)
	}
	p := &netPool{slirp: rt.conf.slirp, ip: rt.conf.ip}
	defer p.close()
	n, err := p.get()
	require.NoError(t, err)
	n.block = "routes made for other host addresses"
	p.put(n)
	m, err := p.get()
	require.NoError(t, err)
	defer m.close()
	assert.NotSame(t, n, m)
	assert.False(t, n.working(), "the stale network's slirp4netns still runs")
}
