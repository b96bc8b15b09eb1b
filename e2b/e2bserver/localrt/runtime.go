package localrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/tta-dev/tta/e2b/e2bserver"
)

// Runtime is an e2bserver.Runtime that runs sandboxes as local processes: a
// sandbox is a private directory (what envd's file API reads and writes:
// /home/user, /tmp, /root and any other path live under it) plus the
// processes started in it — kernels of its code interpreter contexts and
// envd's processes. Plug it into a Server
// with e2bserver.WithRuntime.
//
// Sandbox processes are confined where the kernel allows: each sees a root
// file system of its own and runs as an unprivileged user in namespaces of
// its own, within per-sandbox limits (see the package documentation and
// Isolation). Production untrusted code belongs on E2B.
//
// Templates: every template the Server resolves runs with python, javascript
// and bash kernels unless it has NoInterpreter (E2B's "base": envd only);
// WithTemplates adds setup commands and environment variables per template.
//
// A Runtime is safe for concurrent use. Close kills every sandbox still
// running.
type Runtime struct {
	root      string
	templates []TemplateConfig
	limits    Limits
	isolate   bool
	fork      bool // Python kernels of confined sandboxes from a fork server
	grace     time.Duration
	log       *slog.Logger

	confOnce sync.Once

	mu        sync.Mutex // protects the fields below
	instances map[*instance]struct{}
	conf      *confinement // set once by confinement
	zyg       *zygote      // the fork server, once started
	nets      *netPool     // networks with internet access for reuse, once confined
	noFork    string       // why kernels are not forked, once they are not
	closed    bool
}

// An Option configures a Runtime at construction (New). Options are applied
// in order; WithTemplates accumulates, the others replace what an earlier one
// set. An option that is given a bad value, and a nil Option, make New fail
// with an error saying which.
type Option func(*config) error

// config is what the options set.
type config struct {
	root      string
	templates []TemplateConfig
	limits    Limits
	isolate   bool
	fork      bool
	grace     time.Duration
	log       *slog.Logger
}

// WithRoot sets the directory under which sandboxes get their directories
// (default os.TempDir()/tta-sandboxes). It is created when missing.
func WithRoot(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return errors.New("localrt: WithRoot: empty directory")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("localrt: WithRoot: %w", err)
		}
		c.root = abs
		return nil
	}
}

// WithTemplates configures templates: setup commands and environment
// variables of the sandboxes created from them (see TemplateConfig). Register
// the same templates with the Server (TemplateConfig.Template). It may be
// given several times; configurations accumulate.
func WithTemplates(ts ...TemplateConfig) Option {
	return func(c *config) error {
		for _, t := range ts {
			if t.Name == "" && t.ID == "" {
				return errors.New("localrt: WithTemplates: a template has neither Name nor ID")
			}
		}
		c.templates = append(c.templates, ts...)
		return nil
	}
}

// WithLimits sets the resource limits of each sandbox (default
// DefaultLimits()). Fields must not be negative; zero leaves a limit unset.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.validate(); err != nil {
			return fmt.Errorf("localrt: WithLimits: %w", err)
		}
		c.limits = l
		return nil
	}
}

// WithoutIsolation runs sandbox processes on the host, without namespaces or
// a root of their own, even where the kernel allows them; only the
// per-process limits (FileSize, OpenFiles) apply. For debugging: sandbox
// code then reads the host's files and reaches its network.
func WithoutIsolation() Option {
	return func(c *config) error {
		c.isolate = false
		return nil
	}
}

// WithLogger makes the Runtime log through l what changes after start-up:
// for now, that Python kernels start as processes of their own because the
// fork server failed (once). A nil l is an error; the default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("localrt: WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithoutForkServer starts every Python kernel as a process of its own, as
// an unprivileged server does, instead of forking it from the Runtime's
// fork server (see Isolation.Kernels): for comparison and debugging.
func WithoutForkServer() Option {
	return func(c *config) error {
		c.fork = false
		return nil
	}
}

// withInterruptGrace sets how long cancelled code has to stop after SIGINT
// before its kernel is killed (default defaultInterruptGrace).
func withInterruptGrace(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("localrt: withInterruptGrace: must be > 0, got %v", d)
		}
		c.grace = d
		return nil
	}
}

// New returns a Runtime configured by opts.
func New(opts ...Option) (*Runtime, error) {
	c := config{
		root:    filepath.Join(os.TempDir(), "tta-sandboxes"),
		limits:  DefaultLimits(),
		isolate: true,
		fork:    true,
		grace:   defaultInterruptGrace,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("localrt: New: option %d is nil; pass only options such as WithRoot", i+1)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	return &Runtime{
		root:      c.root,
		templates: c.templates,
		limits:    c.limits,
		isolate:   c.isolate,
		fork:      c.fork,
		grace:     c.grace,
		log:       c.log,
		instances: make(map[*instance]struct{}),
	}, nil
}

// Isolation describes how the Runtime confines its sandboxes. The first
// call decides it: it checks the kernel and tools, makes the Runtime's
// cgroups and launches a probe process (tens of milliseconds).
func (rt *Runtime) Isolation() Isolation {
	iso := rt.confinement().Isolation
	if iso.Confined {
		iso.Kernels = "each a new process"
		rt.mu.Lock()
		switch {
		case rt.noFork != "":
			iso.Kernels += " (" + rt.noFork + ")"
		case rt.conf.privileged && rt.fork:
			iso.Kernels = "Python kernels forked from a warm interpreter, then confined"
		}
		rt.mu.Unlock()
	}
	return iso
}

// forkServer returns the Runtime's fork server, starting it on first use, or
// nil where kernels are not forked.
func (rt *Runtime) forkServer() *zygote {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.fork || rt.noFork != "" || rt.closed {
		return nil
	}
	if rt.zyg == nil {
		py, err := pythonPath()
		if err == nil {
			rt.zyg, err = startZygote(py)
		}
		if err != nil {
			rt.noFork = "fork server: " + err.Error()
			rt.logNoFork()
			return nil
		}
	}
	return rt.zyg
}

// forkFailed stops forking kernels after a forked one failed to start, and
// says why in Isolation.
func (rt *Runtime) forkFailed(err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.noFork == "" {
		rt.noFork = "the fork server failed: " + err.Error()
		rt.logNoFork()
	}
}

// logNoFork says, once, that kernels start as processes of their own. The
// caller holds rt.mu and has just set rt.noFork.
func (rt *Runtime) logNoFork() {
	if rt.log != nil {
		rt.log.Warn("localrt: Python kernels now start as processes of their own, each tens of milliseconds slower", "reason", rt.noFork)
	}
}

func (rt *Runtime) confinement() *confinement {
	rt.confOnce.Do(func() {
		c := rt.confine()
		rt.mu.Lock()
		rt.conf = c
		if c.Internet {
			rt.nets = &netPool{slirp: c.slirp, ip: c.ip}
		}
		if rt.closed { // Close has run: nothing else will release it
			c.release()
		}
		rt.mu.Unlock()
	})
	return rt.conf
}

// template returns the configuration of t (zero when none).
func (rt *Runtime) template(t e2bserver.Template) TemplateConfig {
	for _, c := range rt.templates {
		if c.matches(t) {
			return c
		}
	}
	return TemplateConfig{}
}

// internetAccess reports whether a sandbox of spec gets internet access
// (when the machine allows it at all): unless allow_internet_access is false
// or denyOut denies everything. Local sandboxes have internet access or none,
// so egress rules that allow some destinations and not others are refused
// rather than widened.
func internetAccess(spec e2bserver.SandboxSpec) (bool, error) {
	if spec.SelectiveEgress() {
		return false, fmt.Errorf("localrt: local sandboxes cannot enforce egress rules that allow some destinations and not others (allowOut %q, denyOut %q): they have internet access or none; use allow_internet_access, or denyOut [\"0.0.0.0/0\"] alone for none", spec.AllowOut, spec.DenyOut)
	}
	return !spec.DeniesAll(), nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Start implements e2bserver.Runtime: it makes the sandbox and, for a
// template with an interpreter and no setup, returns once its default
// Python kernel has started (or failed to, or ctx ended); setup commands, if
// any, run in the background while the interpreter port stays closed.
func (rt *Runtime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	internet, err := internetAccess(spec)
	if err != nil {
		return nil, err
	}
	conf := rt.confinement()
	if err := os.MkdirAll(rt.root, 0o700); err != nil {
		return nil, fmt.Errorf("localrt: sandbox root: %w", err)
	}
	dir, err := os.MkdirTemp(rt.root, sandboxDirPrefix(spec.SandboxID))
	if err != nil {
		return nil, fmt.Errorf("localrt: sandbox directory: %w", err)
	}
	in := &instance{
		rt:       rt,
		id:       spec.SandboxID,
		dir:      dir,
		contexts: make(map[string]*kernelContext),
		defaults: make(map[string]string),
		procs:    make(map[int]*process),
		setupLog: "/tmp/tta-setup.log",
	}
	if err := in.confine(conf, internet); err != nil {
		in.release()
		return nil, err
	}
	if in.root, err = os.OpenRoot(dir); err != nil {
		in.release()
		return nil, fmt.Errorf("localrt: sandbox directory: %w", err)
	}

	tc := rt.template(spec.Template)
	env := map[string]string{
		"PATH":           os.Getenv("PATH"),
		"LANG":           "C.UTF-8",
		"USER":           defaultUser,
		"E2B_SANDBOX":    "true",
		"E2B_SANDBOX_ID": spec.SandboxID,
		"E2B_TEMPLATE":   spec.Template.ID,
	}
	if env["PATH"] == "" {
		env["PATH"] = defaultPath
	}
	maps.Copy(env, tc.EnvVars)
	maps.Copy(env, spec.EnvVars)

	if in.launch != nil {
		env["PATH"] = conf.view.path
	}
	in.env = env
	in.ctx, in.cancel = context.WithCancel(context.Background())
	switch {
	case spec.Template.NoInterpreter || tc.NoInterpreter:
		in.interp = portNone
	case len(tc.Setup) > 0:
		in.interp = portStarting
	default:
		in.interp = portOpen
	}
	if in.interp != portNone {
		for _, lang := range []string{langPython, langJavaScript} {
			c := in.newContextLocked(lang, homeDir)
			in.defaults[lang] = c.info.ID
		}
	}

	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		in.cancel()
		in.release()
		return nil, errors.New("localrt: runtime closed")
	}
	rt.instances[in] = struct{}{}
	rt.mu.Unlock()

	switch in.interp {
	case portStarting:
		in.wg.Add(1)
		go in.setup(tc.Setup)
	case portOpen:
		// As E2B's code interpreter, whose server answers only once its
		// default kernel is up and whose template's start waits for that:
		// a created sandbox runs its first code at once. A kernel that fails
		// to start reports its error to the executions that need it.
		select {
		case <-in.warm():
		case <-ctx.Done():
		}
	}
	if in.netns != nil && in.netns.ready != nil {
		if err := in.netns.ready(); err != nil {
			in.Close()
			return nil, fmt.Errorf("localrt: sandbox network: %w", err)
		}
	}
	return in, nil
}

// forget drops a closed instance.
func (rt *Runtime) forget(in *instance) {
	rt.mu.Lock()
	delete(rt.instances, in)
	rt.mu.Unlock()
}

// Close kills every sandbox still running and removes its directory. Start
// fails afterwards. Close is idempotent.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	rt.closed = true
	conf, zyg, nets := rt.conf, rt.zyg, rt.nets
	ins := make([]*instance, 0, len(rt.instances))
	for in := range rt.instances {
		ins = append(ins, in)
	}
	rt.mu.Unlock()
	var errs []error
	for _, in := range ins {
		errs = append(errs, in.Close())
	}
	if zyg != nil {
		zyg.close()
	}
	if nets != nil {
		nets.close()
	}
	if conf != nil {
		conf.release()
	}
	return errors.Join(errs...)
}

// Sandbox users and their homes, as E2B's templates have them.
const (
	defaultUser = "user"
	rootUser    = "root"
	homeDir     = "/home/user"
)

// homeOf returns the home of user ("" is the default user).
func homeOf(user string) string {
	if user == rootUser {
		return "/root"
	}
	return homeDir
}

// bashPath finds bash for setup commands and the bash kernel.
func bashPath() (string, error) {
	p, err := exec.LookPath("bash")
	if err != nil {
		return "", fmt.Errorf("localrt: bash not found on PATH: %w", err)
	}
	return p, nil
}

// errClosed is returned by a closed sandbox. It wraps fs.ErrNotExist: the
// sandbox is gone.
var errClosed = fmt.Errorf("localrt: sandbox closed: %w", fs.ErrNotExist)

// interface checks
var (
	_ e2bserver.Runtime  = (*Runtime)(nil)
	_ e2bserver.Instance = (*instance)(nil)
	_ e2bserver.Pauser   = (*instance)(nil)
)
