package localrt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// launcherScript runs as the first process of a sandbox process's new user,
// mount, pid, ipc and (optionally) network namespaces. It mounts the
// sandbox's view of the file system, then runs the command as its child:
// /home is a fresh tmpfs with the sandbox's home bound at /home/user, /tmp is
// the sandbox's own, /proc shows only the namespace's processes, every other
// writable mount becomes read-only, and a private network gets a loopback
// interface. As the namespace's init it would ignore signals it has no
// handler for: it traps SIGINT and SIGTERM, so a signal sent to the process
// group before the command runs ends the launcher, and one sent while it
// runs reaches the command (the launcher then exits after it). When the
// launcher exits, the kernel kills everything left in the namespace.
//
// Arguments: sandbox directory, working directory (sandbox view), "1" for a
// private network, the file descriptor to report on once the traps are set,
// then the command. The launcher exits 125 when it cannot set up the
// sandbox's view.
const launcherScript = `trap 'exit 130' INT
trap 'exit 143' TERM
sb=$1 cwd=$2 net=$3 ready=$4
shift 4
echo >&"$ready"
eval "exec $ready>&-"
mount --make-rprivate / 2>/dev/null
mount -t proc proc /proc || exit 125
mount -t tmpfs -o mode=0755 tmpfs /home || exit 125
mkdir -p /home/user || exit 125
mount --bind "$sb/home/user" /home/user || exit 125
mount --bind "$sb/tmp" /tmp || exit 125
while read -r _ _ _ _ mp opts _; do
	case $mp in
	/proc|/proc/*|/dev|/dev/*|/sys|/sys/*|/home|/home/*|/tmp|/tmp/*) ;;
	*) case $opts in rw*) mount -o remount,bind,ro "$mp" 2>/dev/null ;; esac ;;
	esac
done < /proc/self/mountinfo
if [ "$net" = 1 ]; then ip link set lo up 2>/dev/null; fi
cd "$cwd" || exit 125
"$@"
`

// launcherShell runs launcherScript.
const launcherShell = "/bin/sh"

// isolation says how a sandbox's processes are confined.
type isolation struct {
	namespaces bool   // processes run in their own namespaces
	reason     string // why not, when namespaces is false
}

// nsFlags are the namespaces every sandbox process gets; a private network
// adds CLONE_NEWNET.
const nsFlags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC

// readyTimeout bounds the wait for the launcher to report its traps set.
const readyTimeout = 10 * time.Second

// namespaced returns a function that makes a command run through the
// launcher in new namespaces, working in cwd (sandbox view) of the sandbox
// at dir, without network unless network. The function it returns in turn
// waits, once the command started, until the launcher handles signals: a
// signal sent earlier would reach a namespace init without handlers and be
// dropped.
func namespaced(dir, cwd string, network bool) func(*exec.Cmd) (func(bool), error) {
	net := "1"
	flags := uintptr(nsFlags | syscall.CLONE_NEWNET)
	if network {
		net = "0"
		flags = nsFlags
	}
	return func(cmd *exec.Cmd) (func(bool), error) {
		readyR, readyW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, readyW)
		fd := strconv.Itoa(2 + len(cmd.ExtraFiles))
		args := append([]string{launcherShell, "-c", launcherScript, "tta-sandbox", dir, cwd, net, fd}, cmd.Args...)
		args[len(args)-len(cmd.Args)] = cmd.Path
		cmd.Path = launcherShell
		cmd.Args = args
		cmd.Err = nil
		cmd.Dir = dir
		cmd.SysProcAttr.Cloneflags = flags
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		return func(started bool) {
			readyW.Close()
			if started {
				// One byte once the traps are set, or EOF if the launcher
				// died first; either way signals are no longer dropped.
				_ = readyR.SetReadDeadline(time.Now().Add(readyTimeout))
				var b [1]byte
				_, _ = readyR.Read(b[:])
			}
			readyR.Close()
		}, nil
	}
}

// probeIsolation reports whether namespaced processes work here, by running
// /bin/true through the launcher in a scratch sandbox under root.
func probeIsolation(root string) isolation {
	if _, err := os.Stat(launcherShell); err != nil {
		return isolation{reason: "no " + launcherShell}
	}
	for _, tool := range []string{"mount", "mkdir"} {
		if _, err := exec.LookPath(tool); err != nil {
			return isolation{reason: tool + " not found"}
		}
	}
	dir, err := os.MkdirTemp(root, "probe-")
	if err != nil {
		return isolation{reason: err.Error()}
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"home/user", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return isolation{reason: err.Error()}
		}
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return isolation{reason: "true not found"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, truePath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	after, err := namespaced(dir, "/home/user", false)(cmd)
	if err != nil {
		return isolation{reason: err.Error()}
	}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Start()
	after(err == nil)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			msg = ": " + msg
		}
		return isolation{reason: fmt.Sprintf("namespaces unavailable (%v)%s", err, msg)}
	}
	return isolation{namespaces: true}
}

// Limits are the resource limits (setrlimit) of every process of a sandbox.
// Zero leaves a limit as the server's own. Limits apply per process (memory,
// file size, open files) or per host user (processes; not enforced for
// root), and are set right after a process starts.
type Limits struct {
	// Memory caps each process's address space in bytes (RLIMIT_AS). node
	// reserves several GiB of address space: keep it at 8 GiB or more for
	// JavaScript.
	Memory int64
	// Processes caps the processes and threads of the host user running the
	// server (RLIMIT_NPROC).
	Processes int64
	// FileSize caps the size of a file a process writes, in bytes
	// (RLIMIT_FSIZE).
	FileSize int64
	// OpenFiles caps each process's open file descriptors (RLIMIT_NOFILE).
	OpenFiles int64
}

// DefaultLimits are the limits of a Runtime created without WithLimits: 2
// GiB files and 4096 open files per process, memory and processes as the
// server's own.
func DefaultLimits() Limits {
	return Limits{FileSize: 2 << 30, OpenFiles: 4096}
}

// Resource numbers of setrlimit on Linux.
const (
	rlimitFSIZE  = 1
	rlimitNPROC  = 6
	rlimitNOFILE = 7
	rlimitAS     = 9
)

// apply sets l on the running process pid.
func (l Limits) apply(pid int) error {
	for _, r := range []struct {
		resource int
		value    int64
		name     string
	}{
		{rlimitAS, l.Memory, "memory"},
		{rlimitNPROC, l.Processes, "processes"},
		{rlimitFSIZE, l.FileSize, "file size"},
		{rlimitNOFILE, l.OpenFiles, "open files"},
	} {
		if r.value <= 0 {
			continue
		}
		lim := syscall.Rlimit{Cur: uint64(r.value), Max: uint64(r.value)}
		var old syscall.Rlimit
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(r.resource), 0, uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
			return fmt.Errorf("localrt: reading the %s limit: %w", r.name, errno)
		}
		if old.Max < lim.Max {
			lim.Cur, lim.Max = min(lim.Cur, old.Max), old.Max // never raise a hard limit
		}
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(r.resource), uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
			if errno == syscall.ESRCH {
				return nil // already gone
			}
			return fmt.Errorf("localrt: setting the %s limit: %w", r.name, errno)
		}
	}
	return nil
}
