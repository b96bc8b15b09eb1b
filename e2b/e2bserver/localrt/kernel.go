package localrt

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// defaultInterruptGrace is how long a cancelled execution's code has to stop
// after SIGINT before its kernel is killed (and restarted on the next
// execution, its state lost).
const defaultInterruptGrace = 2 * time.Second

// defaultPath is the PATH of kernels when neither the host nor the caller sets
// one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// kernel runs code of one language in one execution context, as a Jupyter
// kernel does for E2B's code interpreter.
//
// Python and JavaScript kernels are one long-lived driver process each
// (python3 or node running an embedded driver): variables, imports and
// functions persist across executions, the value of the final expression is
// the main result, output is streamed as it is produced (including what
// child processes write to the kernel's stdout and stderr). What the
// interpreter prints itself and what child processes write straight to its
// file descriptors travel by separate pipes: each keeps its own order, but
// their order relative to each other is not guaranteed, as in Jupyter. A Bash kernel
// runs each execution in a fresh bash -c and keeps no state; background jobs
// end with the execution.
//
// Interrupts (a cancelled execution) reach Python as KeyboardInterrupt and
// JavaScript as an "interrupted" error, the state kept. node has a narrow
// window, as a script's synchronous part ends, where a SIGINT kills it: the
// execution then ends with a "DeadKernelError" and the next one starts a
// fresh kernel.
//
// Executions on one kernel run one at a time, in call order; a second Execute
// waits for the first (or for its ctx). A driver that dies is replaced by a
// fresh one on the next Execute, with its state lost and its execution count
// reset.
//
// A kernel is safe for concurrent use. Close kills its processes; the zero
// value is not usable: use startKernel.
type kernel struct {
	language string
	spec     procSpec // argv unset for Bash
	grace    time.Duration

	slot chan struct{} // holds a token while an execution runs

	mu     sync.Mutex // protects the fields below
	proc   *driverProc
	count  int
	closed bool
	shells map[int]struct{} // process groups of running bash executions
}

// kernelConfig is everything a kernel's processes are launched with.
type kernelConfig struct {
	language string
	dir      string
	env      map[string]string
	grace    time.Duration       // 0: defaultInterruptGrace
	confine  *launchSpec         // nil: on the host
	started  func(pid int) error // after start (limits of unconfined kernels)
	// fork, for Python, starts drivers from the fork server (procSpec.fork).
	fork func(stdout, stderr, fd3, fd4 *os.File) (int, func() error, error)
}

// startKernel starts a kernel of cfg.language (see normalizeLanguage) working
// in cfg.dir. cfg.env is the kernel's whole environment: nothing is inherited
// from the calling process but PATH (when env has none); HOME defaults to dir
// and LANG to C.UTF-8. ctx bounds the start only.
//
// The kernel runs python3 or node from PATH; an unsupported language is an
// error wrapping errUnsupportedLanguage.
func startKernel(ctx context.Context, cfg kernelConfig) (*kernel, error) {
	lang, err := normalizeLanguage(cfg.language)
	if err != nil {
		return nil, err
	}
	if cfg.grace <= 0 {
		cfg.grace = defaultInterruptGrace
	}
	k := &kernel{
		language: lang,
		grace:    cfg.grace,
		slot:     make(chan struct{}, 1),
		shells:   make(map[int]struct{}),
		spec: procSpec{
			dir:     cfg.dir,
			env:     kernelEnv(lang, cfg.dir, cfg.env),
			confine: cfg.confine,
			started: cfg.started,
		},
	}
	switch lang {
	case langPython:
		py, err := pythonPath()
		if err != nil {
			return nil, err
		}
		k.spec.argv = []string{py, "-u", "-c", pythonDriver}
		k.spec.fork = cfg.fork
	case langJavaScript:
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("localrt: javascript needs node on PATH: %w", err)
		}
		k.spec.argv = []string{node, "-e", nodeDriver}
	case langBash:
		bash, err := exec.LookPath("bash")
		if err != nil {
			return nil, fmt.Errorf("localrt: bash not found on PATH: %w", err)
		}
		k.spec.argv = []string{bash}
		return k, nil
	}
	p, err := startDriver(ctx, lang, k.spec)
	if err != nil {
		return nil, err
	}
	k.proc = p
	return k, nil
}

// kernelEnv builds the environment of a kernel's processes.
func kernelEnv(lang, dir string, env map[string]string) []string {
	m := map[string]string{
		"HOME": dir,
		"LANG": "C.UTF-8",
		"PATH": os.Getenv("PATH"),
	}
	if m["PATH"] == "" {
		m["PATH"] = defaultPath
	}
	maps.Copy(m, env)
	if lang == langPython {
		m["PYTHONUNBUFFERED"] = "1"
		m["PYTHONIOENCODING"] = "utf-8"
		if _, ok := m["MPLBACKEND"]; !ok {
			m["MPLBACKEND"] = "Agg"
		}
	}
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

var pythonOnce = sync.OnceValues(func() (string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("localrt: python needs python3 on PATH: %w", err)
	}
	// Resolve launchers such as pyenv shims once: they cost tens of
	// milliseconds per start.
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if real := strings.TrimSpace(string(out)); err == nil && real != "" {
		return real, nil
	}
	return py, nil
})

// pythonPath returns the python3 interpreter kernels run.
func pythonPath() (string, error) { return pythonOnce() }

// Language returns the kernel's language: langPython, langJavaScript or
// langBash.
func (k *kernel) Language() string { return k.language }

// Execute runs code and reports what it produces through emit, in order:
// first a number_of_executions event with the kernel's execution count (1
// for the first execution, incremented by every execution), then stdout,
// stderr, result and error events as they are produced. env is set for this
// execution only, on top of the kernel's environment.
//
// The code raising is an "error" event and a nil return. When emit returns an
// error, or ctx is done, the running code is interrupted with SIGINT (Python
// reports KeyboardInterrupt) and Execute returns that error, or ctx's, once the
// kernel has reported; code still running its interrupt grace after the
// interrupt is killed with its kernel, and the next execution starts a fresh
// one. A kernel that dies during an execution is reported as an error event
// named "DeadKernelError".
//
// emit is called from Execute's goroutine only.
func (k *kernel) Execute(ctx context.Context, code string, env map[string]string, emit func(wire.ExecutionEvent) error) error {
	select {
	case k.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-k.slot }()

	if k.language == langBash {
		count, err := k.nextCount()
		if err != nil {
			return err
		}
		if err := emit(wire.ExecutionEvent{Type: wire.EventNumberOfExecutions, ExecutionCount: count}); err != nil {
			return err
		}
		return k.runBash(ctx, code, env, emit)
	}

	p, err := k.driver(ctx)
	if err != nil {
		return err
	}
	count, err := k.nextCount()
	if err != nil {
		return err
	}
	if err := emit(wire.ExecutionEvent{Type: wire.EventNumberOfExecutions, ExecutionCount: count}); err != nil {
		return err
	}
	out := p.run(ctx, driverRequest{ID: p.newID(), Count: count, Code: code, Env: env}, k.grace, emit)
	if out.dead {
		k.forget(p)
	}
	return out.err
}

// driver returns the live driver, starting a fresh one when the last died.
func (k *kernel) driver(ctx context.Context) (*driverProc, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errKernelClosed
	}
	if k.proc != nil && k.proc.alive() {
		return k.proc, nil
	}
	if k.proc != nil {
		old := k.proc
		k.proc = nil
		k.count = 0
		old.close()
	}
	p, err := startDriver(ctx, k.language, k.spec)
	if err != nil {
		return nil, err
	}
	k.proc = p
	return p, nil
}

// forget drops p, a driver that died, so the next execution starts afresh.
func (k *kernel) forget(p *driverProc) {
	k.mu.Lock()
	if k.proc == p {
		k.proc = nil
		k.count = 0
	}
	k.mu.Unlock()
	p.close()
}

// nextCount increments and returns the execution count.
func (k *kernel) nextCount() (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, errKernelClosed
	}
	k.count++
	return k.count, nil
}

// Restart replaces the kernel's process with a fresh one: state and execution
// count are cleared. An execution running on the old process ends with a
// "DeadKernelError" event. For Bash it only resets the count. ctx bounds the
// start of the new process.
func (k *kernel) Restart(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errKernelClosed
	}
	old := k.proc
	k.proc = nil
	k.count = 0
	k.mu.Unlock()
	if old != nil {
		old.close()
	}
	if k.language == langBash {
		return nil
	}
	_, err := k.driver(ctx)
	return err
}

// Close kills the kernel's processes (every process of their process groups)
// and waits until they are gone. Executions still running end soon after.
// Close is idempotent.
func (k *kernel) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	p := k.proc
	k.proc = nil
	for pgid := range k.shells {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	k.mu.Unlock()
	if p != nil {
		p.close()
	}
	return nil
}

// pgids lists the process groups of the kernel's running processes.
func (k *kernel) pgids() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	if k.proc != nil {
		out = append(out, k.proc.pid)
	}
	for pgid := range k.shells {
		out = append(out, pgid)
	}
	return out
}

// waitIdle waits until no execution runs on the kernel (or ctx is done).
func (k *kernel) waitIdle(ctx context.Context) error {
	select {
	case k.slot <- struct{}{}:
		<-k.slot
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
