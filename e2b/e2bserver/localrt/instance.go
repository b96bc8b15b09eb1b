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
	rt       *Runtime
	id       string
	dir      string   // the sandbox's directory: its "/"
	root     *os.Root // dir, for confined file access
	iso      isolation
	network  bool
	env      map[string]string // environment of every process
	setupLog string            // sandbox path of the setup commands' output

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

// hostPath maps a sandbox path to the host (for processes without
// namespaces).
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
	if !in.iso.namespaces {
		home = in.hostPath(home)
	}
	env["HOME"] = home
	if user == rootUser {
		env["USER"] = rootUser
	}
	maps.Copy(env, extra)
	return env
}

// launch returns how to start argv working in cwd (sandbox path): through
// the namespace launcher when isolated (with a private network unless
// network), else directly in the mapped host directory. Limits apply once it
// runs.
func (in *instance) launch(argv []string, cwd string, env map[string]string, network bool) procSpec {
	s := procSpec{argv: argv, env: envList(env), started: in.rt.limits.apply}
	if in.iso.namespaces {
		s.dir = in.dir
		s.isolate = namespaced(in.dir, cwd, network)
	} else {
		s.dir = in.hostPath(cwd)
	}
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
	if !in.iso.namespaces || isWithin(p, homeDir) || isWithin(p, "/tmp") || isWithin(p, "/root") {
		if err := in.root.MkdirAll(r, 0o755); err != nil {
			return fsError(p, err)
		}
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
		// Setup is the template's build step: it may always reach the network.
		spec := in.launch([]string{bash, "-c", line}, homeDir, in.procEnv(defaultUser, nil), true)
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
// execution does not wait for it.
func (in *instance) warm() {
	in.mu.Lock()
	c := in.contexts[in.defaults[Python]]
	closed := in.closed
	if c != nil && !closed {
		in.wg.Add(1)
	}
	in.mu.Unlock()
	if c == nil || closed {
		return
	}
	go func() {
		defer in.wg.Done()
		_, _ = in.kernel(in.ctx, c)
	}()
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
	err := in.root.Close()
	if rerr := os.RemoveAll(in.dir); err == nil {
		err = rerr
	}
	in.rt.forget(in)
	return err
}

// Pause implements e2bserver.Pauser: every process of the sandbox is stopped
// (SIGSTOP) until Resume. Executions the pause cancelled are first given the
// time to report their interrupt, so that no kernel is frozen halfway and
// killed.
func (in *instance) Pause(ctx context.Context) error {
	in.mu.Lock()
	var ks []*Kernel
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
