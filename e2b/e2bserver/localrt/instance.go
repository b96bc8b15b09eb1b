package localrt

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/tta-dev/tta/e2b"
)

// portState is the state of a sandbox's interpreter port.
type portState int

const (
	portNone     portState = iota // the template has no interpreter
	portStarting                  // setup commands are running
	portOpen                      // the interpreter serves
	portFailed                    // setup failed: closed for good
)

// instance is one sandbox of a Runtime.
type instance struct {
	rt   *Runtime
	id   string
	dir  string            // the sandbox's directory: its "/"
	root *os.Root          // dir, for confined file access
	env  map[string]string // environment of every process

	// Confinement; launch is nil when processes run on the host.
	launch   *launchSpec
	owner    func(user string) (int, bool) // host owner of files written for user
	netns    *netns
	cgroup   *cgroup
	setupLog string // sandbox path of the setup commands' output

	ctx    context.Context // done on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // setup and warm-up goroutines

	mu          sync.Mutex // protects the fields below
	interp      portState
	setupReason string // why setup failed
	contexts    map[string]*kernelContext
	order       []string          // context IDs in creation order
	defaults    map[string]string // language -> default context ID
	procs       map[int]*process  // envd processes by pid
	paused      bool
	closed      bool
}

// checkOpen returns errClosed after Close.
func (in *instance) checkOpen() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return errClosed
	}
	return nil
}

// PortOpen implements e2bserver.Instance: envd is open until Close, the
// interpreter once setup has succeeded (never for templates without one).
func (in *instance) PortOpen(port int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	switch port {
	case e2b.EnvdPort:
		return true
	case e2b.InterpreterPort:
		return in.interp == portOpen
	}
	return false
}

// confine sets up the sandbox's confinement as conf decided: its disk, its
// directories, its cgroup and its network (with internet access when
// internet and conf allow it). On error, release undoes what was done.
func (in *instance) confine(conf *confinement, internet bool) error {
	in.owner = conf.owner
	limits := in.rt.limits
	if conf.Confined && conf.privileged && limits.Disk > 0 {
		if err := mountDisk(in.dir, limits.Disk); err != nil {
			return err
		}
	}
	if err := conf.prepare(in.dir); err != nil {
		return fmt.Errorf("localrt: sandbox directory: %w", err)
	}
	if !conf.Confined {
		return nil
	}
	resolv := ""
	if conf.cgroups != nil {
		cg, err := conf.cgroups.sandbox(filepath.Base(in.dir), limits)
		if err != nil {
			return fmt.Errorf("localrt: sandbox limits: %w", err)
		}
		in.cgroup = cg
	}
	if conf.privileged {
		slirp := ""
		if internet && conf.Internet {
			slirp = conf.slirp
			resolv = "nameserver " + slirpDNS + "\n"
		}
		var n *netns
		var err error
		if slirp != "" {
			n, err = in.rt.nets.get()
		} else {
			n, err = newNetns("", conf.ip)
		}
		if err != nil {
			return fmt.Errorf("localrt: sandbox network: %w", err)
		}
		in.netns = n
	}
	l, err := conf.launchSpec(in.dir, in.id, resolv)
	if err != nil {
		return fmt.Errorf("localrt: sandbox root: %w", err)
	}
	l.cfg.Rlimits = limits.rlimits()
	l.netns, l.cgroup = in.netns, in.cgroup
	in.launch = l
	return nil
}

// release frees what confine and Start set up: cgroup (killing what is left
// in it), network, disk and directory.
func (in *instance) release() error {
	var err error
	if in.root != nil {
		err = in.root.Close()
	}
	ended := false // every process of the sandbox is known to have ended
	if in.cgroup != nil {
		ended = in.cgroup.remove()
	}
	if n := in.netns; n != nil {
		if ended && n.slirp != nil && n.working() {
			in.rt.nets.put(n)
		} else {
			n.close()
		}
	}
	if in.launch != nil {
		if rerr := in.launch.release(); rerr != nil && err == nil {
			err = rerr
		}
	}
	if rerr := removeMounted(in.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// hostPath maps a sandbox path to the host (for processes not confined).
func (in *instance) hostPath(p string) string {
	r, err := rel(p)
	if err != nil {
		return in.dir
	}
	return filepath.Join(in.dir, filepath.FromSlash(r))
}

// procEnv is the environment of a process of user with extra variables on
// top.
func (in *instance) procEnv(user string, extra map[string]string) map[string]string {
	env := maps.Clone(in.env)
	home := homeOf(user)
	if in.launch == nil {
		home = in.hostPath(home)
	}
	env["HOME"] = home
	if user == rootUser {
		env["USER"] = rootUser
	}
	maps.Copy(env, extra)
	return env
}

// spec returns how to start argv as user working in cwd (sandbox path):
// confined through the launcher, or else directly in the mapped host
// directory, with per-process limits applied once it runs.
func (in *instance) spec(argv []string, cwd, user string, env map[string]string) procSpec {
	s := procSpec{argv: argv, env: envList(env)}
	if in.launch == nil {
		s.dir = in.hostPath(cwd)
		s.started = in.rt.limits.apply
		return s
	}
	l := *in.launch
	l.cfg.Cwd, l.cfg.UID, l.cfg.GID = cwd, userID, userID
	if user == rootUser {
		l.cfg.UID, l.cfg.GID = rootID, rootID
	}
	s.confine = &l
	return s
}

// envList turns env into sorted "K=V" entries.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// ensureDir creates the sandbox directory p when it lies in the sandbox's
// writable part (its home or /tmp), so kernels and processes can work there.
func (in *instance) ensureDir(p string) error {
	r, err := rel(p)
	if err != nil {
		return err
	}
	if in.launch == nil || isWithin(p, homeDir) || isWithin(p, "/tmp") || isWithin(p, "/root") {
		if err := in.root.MkdirAll(r, 0o755); err != nil {
			return fsError(p, err)
		}
		in.chown(r)
	}
	return nil
}

// isWithin reports whether sandbox path p is dir or below it.
func isWithin(p, dir string) bool {
	p = path.Clean(p)
	return p == dir || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}

// setup runs the template's setup commands, then opens the interpreter port;
// a failing command leaves it closed for good. Output is appended to the
// sandbox's setup log.
func (in *instance) setup(cmds []string) {
	defer in.wg.Done()
	fail := func(reason string) {
		in.mu.Lock()
		in.interp = portFailed
		in.setupReason = reason
		in.mu.Unlock()
		in.appendLog([]byte("tta: setup failed: " + reason + "\n"))
	}
	bash, err := bashPath()
	if err != nil {
		fail(err.Error())
		return
	}
	for i, line := range cmds {
		in.appendLog([]byte("$ " + line + "\n"))
		spec := in.spec([]string{bash, "-c", line}, homeDir, defaultUser, in.procEnv(defaultUser, nil))
		res, err := runPiped(in.ctx, spec, pipedHooks{
			started: spec.started,
			output: func(_ bool, data []byte) error {
				in.appendLog(data)
				return nil
			},
		})
		switch {
		case err != nil:
			fail(fmt.Sprintf("command %d (%s): %v", i+1, line, err))
			return
		case res.cancelled:
			fail("sandbox closed during setup")
			return
		case res.hookErr != nil:
			fail(fmt.Sprintf("command %d (%s): %v", i+1, line, res.hookErr))
			return
		case res.waitErr != nil:
			fail(fmt.Sprintf("command %d (%s): %v", i+1, line, res.waitErr))
			return
		}
	}
	in.mu.Lock()
	if in.interp == portStarting {
		in.interp = portOpen
	}
	in.mu.Unlock()
	in.warm()
}

// appendLog appends data to the setup log, ignoring errors.
func (in *instance) appendLog(data []byte) {
	r, err := rel(in.setupLog)
	if err != nil {
		return
	}
	f, err := in.root.OpenFile(r, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	_, _ = f.Write(data)
	f.Close()
}

// warm starts the default python kernel in the background, so the first
// execution does not wait for it. The channel it returns is closed once the
// kernel has started, failed to, or will not start.
func (in *instance) warm() <-chan struct{} {
	done := make(chan struct{})
	in.mu.Lock()
	c := in.contexts[in.defaults[langPython]]
	closed := in.closed
	if c != nil && !closed {
		in.wg.Add(1)
	}
	in.mu.Unlock()
	if c == nil || closed {
		close(done)
		return done
	}
	go func() {
		defer in.wg.Done()
		defer close(done)
		_, _ = in.kernel(in.ctx, c)
	}()
	return done
}

// Close implements e2bserver.Instance: it kills every process of the sandbox
// (kernels and envd processes, with their process groups and namespaces) and
// removes its directory.
func (in *instance) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	ctxs := slices.Collect(maps.Values(in.contexts))
	pgids := slices.Collect(maps.Keys(in.procs))
	paused := in.paused
	in.mu.Unlock()

	in.cancel()
	for _, pgid := range pgids {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if paused {
			_ = syscall.Kill(-pgid, syscall.SIGCONT)
		}
	}
	for _, c := range ctxs {
		c.close()
	}
	in.wg.Wait()
	// Kernels started by a warm-up racing with Close are closed by now too.
	in.mu.Lock()
	ctxs = slices.Collect(maps.Values(in.contexts))
	in.mu.Unlock()
	for _, c := range ctxs {
		c.close()
	}
	err := in.release()
	in.rt.forget(in)
	return err
}

// Pause implements e2bserver.Pauser: every process of the sandbox is stopped
// (SIGSTOP) until Resume. Executions the pause cancelled are first given the
// time to report their interrupt, so that no kernel is frozen halfway and
// killed.
func (in *instance) Pause(ctx context.Context) error {
	in.mu.Lock()
	var ks []*kernel
	for _, c := range in.contexts {
		if c.mu.TryLock() {
			if c.k != nil {
				ks = append(ks, c.k)
			}
			c.mu.Unlock()
		}
	}
	in.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, in.rt.grace+syncTimeout)
	defer cancel()
	for _, k := range ks {
		if k.waitIdle(wctx) != nil {
			break
		}
	}
	return in.signalAll(true, syscall.SIGSTOP)
}

// Resume implements e2bserver.Pauser.
func (in *instance) Resume(context.Context) error {
	return in.signalAll(false, syscall.SIGCONT)
}

// signalAll sends sig to every process group of the sandbox and records
// whether it is paused.
func (in *instance) signalAll(paused bool, sig syscall.Signal) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return errClosed
	}
	in.paused = paused
	var pgids []int
	for pgid := range in.procs {
		pgids = append(pgids, pgid)
	}
	for _, c := range in.contexts {
		pgids = append(pgids, c.pgids()...)
	}
	in.mu.Unlock()
	for _, pgid := range pgids {
		_ = syscall.Kill(-pgid, sig)
	}
	return nil
}
