package localrt

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

//go:embed zygote.py
var zygotePython string

// zygoteProgram is what the fork server runs: the driver's definitions, then
// the fork server's loop.
var zygoteProgram = "_TTA_ZYGOTE = True\n" + pythonDriver + "\n" + zygotePython

// zygote is a fork server for the Python kernels of a root server's
// confined sandboxes: one python3 process per Runtime, started on first use
// with the kernel driver's modules imported, that forks each new kernel and
// confines it before it runs anything (see zygote.py). A kernel forked from
// it starts in a few milliseconds instead of the tens an interpreter takes.
// Forked kernels share nothing with each other or with the fork server:
// each has its own namespaces, root, user, descriptors and random state.
//
// A zygote is safe for concurrent use.
type zygote struct {
	conn *os.File  // our end of the SOCK_SEQPACKET socket pair
	cmd  *exec.Cmd // the fork server

	sendMu sync.Mutex // serialises requests

	mu      sync.Mutex // protects the fields below
	next    uint64
	waiting map[uint64]*zygoteKid
	err     error // why the fork server is gone; set once
}

// zygoteKid is a kernel forked by the zygote, as the server follows it.
type zygoteKid struct {
	started chan zygoteReply // the fork's answer
	exited  chan int         // the wait status, once
}

// zygoteReply is one message of the fork server.
type zygoteReply struct {
	ID     uint64 `json:"id"`
	PID    int    `json:"pid"`
	Error  string `json:"error"`
	Status *int   `json:"status"`
}

// zygoteRequest asks the fork server for one kernel.
type zygoteRequest struct {
	ID       uint64            `json:"id"`
	Root     string            `json:"root"`
	Cwd      string            `json:"cwd"`
	Env      map[string]string `json:"env"`
	UID      int               `json:"uid"`
	GID      int               `json:"gid"`
	IDMap    [2]int            `json:"idmap"`
	Hostname string            `json:"hostname"`
	Rlimits  [][2]uint64       `json:"rlimits"`
	Cgroups  []string          `json:"cgroups"`
}

// startZygote starts the fork server with python.
func startZygote(python string) (*zygote, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fork server socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "zygote"), os.NewFile(uintptr(fds[1]), "zygote-server")
	// The program on standard input keeps it out of every kernel's cmdline.
	// -s: the kernels add their user's site-packages, not root's.
	cmd := exec.Command(python, "-u", "-s", "-")
	cmd.Stdin = strings.NewReader(zygoteProgram)
	cmd.Env = []string{"PATH=" + defaultPath, "LANG=C.UTF-8", "PYTHONIOENCODING=utf-8", "PYTHONDONTWRITEBYTECODE=1"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{theirs}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	// Pdeathsig: the fork server, and every kernel it forked, dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting the fork server: %w", err)
	}
	z := &zygote{conn: ours, cmd: cmd, waiting: make(map[uint64]*zygoteKid)}
	go z.read(&stderr)
	return z, nil
}

// read dispatches the fork server's messages until it ends.
func (z *zygote) read(stderr *strings.Builder) {
	buf := make([]byte, 1<<16)
	var err error
	for {
		var n int
		n, err = z.conn.Read(buf)
		if err != nil || n == 0 {
			break
		}
		var r zygoteReply
		if err = json.Unmarshal(buf[:n], &r); err != nil {
			break
		}
		z.mu.Lock()
		k := z.waiting[r.ID]
		if k != nil && r.Status != nil {
			delete(z.waiting, r.ID)
		}
		z.mu.Unlock()
		switch {
		case k == nil:
		case r.Status != nil:
			k.exited <- *r.Status
		default:
			k.started <- r
		}
	}
	werr := z.cmd.Wait()
	z.mu.Lock()
	z.err = fmt.Errorf("the fork server ended (%v, %v): %s", err, werr, strings.TrimSpace(stderr.String()))
	waiting := z.waiting
	z.waiting = nil
	z.mu.Unlock()
	for _, k := range waiting {
		close(k.started)
		close(k.exited)
	}
}

// fork asks for a kernel with stdout, stderr, fd 3 and fd 4 as given, in
// network namespace netns. It returns the kernel's pid (also its process
// group) and a function waiting for its end.
func (z *zygote) fork(req zygoteRequest, netns *os.File, files ...*os.File) (int, func() error, error) {
	k := &zygoteKid{started: make(chan zygoteReply, 1), exited: make(chan int, 1)}
	z.mu.Lock()
	if z.err != nil {
		err := z.err
		z.mu.Unlock()
		return 0, nil, err
	}
	z.next++
	req.ID = z.next
	z.waiting[req.ID] = k
	z.mu.Unlock()

	msg, err := json.Marshal(req)
	if err == nil {
		fds := make([]int, 0, 5)
		for _, f := range append(files, netns) {
			fds = append(fds, int(f.Fd()))
		}
		z.sendMu.Lock()
		err = syscall.Sendmsg(int(z.conn.Fd()), msg, syscall.UnixRights(fds...), nil, 0)
		z.sendMu.Unlock()
	}
	if err != nil {
		z.forget(req.ID)
		return 0, nil, fmt.Errorf("asking the fork server: %w", err)
	}
	r, ok := <-k.started
	switch {
	case !ok:
		return 0, nil, z.gone()
	case r.Error != "":
		z.forget(req.ID)
		return 0, nil, errors.New("fork server: " + r.Error)
	}
	wait := sync.OnceValue(func() error {
		status, ok := <-k.exited
		if !ok {
			return z.gone()
		}
		ws := syscall.WaitStatus(status)
		switch {
		case ws.Signaled():
			return fmt.Errorf("signal: %v", ws.Signal())
		case ws.ExitStatus() != 0:
			return fmt.Errorf("exit status %d", ws.ExitStatus())
		}
		return nil
	})
	return r.PID, wait, nil
}

// forget stops following request id.
func (z *zygote) forget(id uint64) {
	z.mu.Lock()
	delete(z.waiting, id)
	z.mu.Unlock()
}

// gone returns why the fork server is gone.
func (z *zygote) gone() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err == nil {
		return errors.New("the fork server ended")
	}
	return z.err
}

// close ends the fork server (and, through their parent-death signal, the
// kernels it forked that are still running).
func (z *zygote) close() {
	z.conn.Close()
	_ = z.cmd.Process.Kill()
}

// limitedWriter keeps at most n bytes written to w.
type limitedWriter struct {
	w *strings.Builder
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// forker returns how the Python kernels of the sandbox working in cwd are
// forked from the Runtime's fork server, or nil where they are not: without
// root (the server builds no root for the sandbox), without a fork server
// (WithoutForkServer, or it failed), or for a sandbox not confined.
func (in *instance) forker(cwd string) func(stdout, stderr, fd3, fd4 *os.File) (int, func() error, error) {
	if in.launch == nil || in.launch.cfg.Root == "" || in.netns == nil {
		return nil
	}
	z := in.rt.forkServer()
	if z == nil {
		return nil
	}
	l := in.launch.cfg
	return func(stdout, stderr, fd3, fd4 *os.File) (int, func() error, error) {
		req := zygoteRequest{
			Root: l.Root, Cwd: cwd, UID: userID, GID: userID, IDMap: [2]int{l.IDMap.Base, l.IDMap.Size},
			Hostname: l.Hostname, Env: make(map[string]string),
		}
		for _, kv := range kernelEnv(langPython, cwd, in.procEnv(defaultUser, nil)) {
			k, v, _ := strings.Cut(kv, "=")
			req.Env[k] = v
		}
		for _, r := range l.Rlimits {
			req.Rlimits = append(req.Rlimits, [2]uint64{uint64(r.Resource), r.Value})
		}
		if in.cgroup != nil {
			req.Cgroups = in.cgroup.dirs
		}
		return z.fork(req, in.netns.fd, stdout, stderr, fd3, fd4)
	}
}
