package e2bserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

// ScriptedRuntime is a Runtime for tests: executions and commands are answered
// by scripts, files live in memory, and nothing runs on the host. Each sandbox
// gets its own file system (seeded from Files), its own contexts (python and
// javascript exist from the start, like E2B's interpreter) with execution
// counts and script-visible state, and its own process table.
//
// The zero value is ready: executions succeed with no output, commands exit 0
// with no output. Set the fields before the Server starts sandboxes and do not
// change them afterwards; the functions are called concurrently for different
// sandboxes and contexts, but never concurrently for one context, whose
// executions queue as a kernel's do.
type ScriptedRuntime struct {
	// Replies answers executions whose code equals a key exactly. It is
	// consulted before Exec.
	Replies map[string]Reply
	// Exec answers the other executions. It reports output through the Cell
	// and returns nil once the cell is done (also when the code "raised", see
	// Cell.Raise); a non-nil error breaks the stream without end_of_execution,
	// as a crashing interpreter would. It must return soon after ctx is done.
	// nil: no output.
	Exec func(ctx context.Context, cell *Cell) error

	// Commands answers processes whose command line (see Command.Line) equals
	// a key exactly. It is consulted before Command.
	Commands map[string]CommandReply
	// Command answers the other processes with their exit code. Output goes
	// through the Command. ctx is done when the process is signalled (the
	// exit code is then ignored and the process reported as killed), when the
	// client goes away or when the sandbox ends; Command must return soon
	// after. A non-nil error ends the stream with a Connect error. nil: exit 0
	// with no output.
	Command func(ctx context.Context, cmd *Command) (exitCode int, err error)

	// Files are created in every new sandbox: path -> content, relative paths
	// under /home/user.
	Files map[string]string
}

// Reply is a canned answer to an execution: after Duration (fake time under
// testing/synctest), Stdout, Stderr, Result and Error are emitted in that
// order, each when non-empty. It is a plain value, read concurrently.
type Reply struct {
	// Stdout is emitted as one stdout chunk; "" emits nothing.
	Stdout string
	// Stderr is emitted as one stderr chunk; "" emits nothing.
	Stderr string
	Result string     // text/plain of the main result, e.g. "2"
	Error  *ExecError // the code raised
	// Duration is how long the execution runs before anything is emitted;
	// zero answers at once.
	Duration time.Duration
}

// ExecError is an error raised by executed code.
type ExecError struct {
	Name  string // e.g. "ZeroDivisionError"
	Value string // e.g. "division by zero"
	// Traceback is the formatted traceback; "" is allowed.
	Traceback string
}

// CommandReply is a canned answer to a process: after Duration, Stdout and
// Stderr are emitted and the process exits with ExitCode. It is a plain value,
// read concurrently.
type CommandReply struct {
	// Stdout is emitted as one stdout chunk; "" emits nothing.
	Stdout string
	// Stderr is emitted as one stderr chunk; "" emits nothing.
	Stderr string
	// ExitCode is the process's exit code; 0 means success.
	ExitCode int
	// Duration is how long the process runs before anything is emitted;
	// zero answers at once.
	Duration time.Duration
}

// Cell is one execution being answered by ScriptedRuntime.Exec. Its methods
// may be called from several goroutines (output is serialised), but not after
// Exec has returned.
type Cell struct {
	Code           string            // the code to run
	Language       string            // normalised: python, javascript, typescript, r, java, bash, ...
	ContextID      string            // the context it runs in
	ExecutionCount int               // 1 for the first cell of the context
	EnvVars        map[string]string // sandbox env vars overlaid with the request's
	// SandboxID is the sandbox the cell runs in.
	SandboxID string
	// Template is the template that sandbox was created from.
	Template Template
	// State persists across the cells of one context until it is restarted:
	// a script's stand-in for the kernel's variables.
	State map[string]any

	ctx  context.Context
	emit func(wire.ExecutionEvent) error
}

// Stdout prints text on the cell's stdout.
func (c *Cell) Stdout(text string) error {
	return c.emit(wire.ExecutionEvent{Type: wire.EventStdout, Text: text})
}

// Stderr prints text on the cell's stderr.
func (c *Cell) Stderr(text string) error {
	return c.emit(wire.ExecutionEvent{Type: wire.EventStderr, Text: text})
}

// Result reports the cell's main result with text as its text/plain form.
func (c *Cell) Result(text string) error {
	return c.emit(wire.ExecutionEvent{Type: wire.EventResult, Text: text, IsMainResult: true})
}

// Raise reports that the code raised an error. The cell should then return
// nil: an error raised by the code is a result, not a failure of the
// interpreter.
func (c *Cell) Raise(name, value, traceback string) error {
	return c.emit(wire.ExecutionEvent{Type: wire.EventError, Name: name, Value: value, Traceback: traceback})
}

// Emit sends any event (a rich result with PNG or chart data, for instance).
func (c *Cell) Emit(ev wire.ExecutionEvent) error { return c.emit(ev) }

// Sleep waits d, or until the execution is cancelled (returning its error).
func (c *Cell) Sleep(d time.Duration) error { return sleepCtx(c.ctx, d) }

// Play answers the cell with r, as ScriptedRuntime.Replies does: after
// r.Duration, r's stdout, stderr and result, then its error, if any. An Exec
// that chooses a Reply for each cell answers with Play.
func (c *Cell) Play(r Reply) error {
	if err := c.Sleep(r.Duration); err != nil {
		return err
	}
	if r.Stdout != "" {
		if err := c.Stdout(r.Stdout); err != nil {
			return err
		}
	}
	if r.Stderr != "" {
		if err := c.Stderr(r.Stderr); err != nil {
			return err
		}
	}
	if r.Result != "" {
		if err := c.Result(r.Result); err != nil {
			return err
		}
	}
	if r.Error != nil {
		return c.Raise(r.Error.Name, r.Error.Value, r.Error.Traceback)
	}
	return nil
}

// Command is one process being answered by ScriptedRuntime.Command. Its
// methods must not be called concurrently, nor after Command has returned.
type Command struct {
	// Line is the command line: for "/bin/bash -l -c LINE" (how E2B's SDKs run
	// commands) and other "sh -c" forms it is LINE, otherwise Cmd and Args
	// joined by spaces.
	Line string
	// Spec is the process configuration as the client sent it.
	Spec ProcessSpec
	// PID is the process id the client was given.
	PID     uint32
	EnvVars map[string]string // sandbox env vars overlaid with the process's
	// SandboxID is the sandbox the process runs in.
	SandboxID string

	ctx    context.Context
	output func(Stream, []byte) error
	stdin  *stdinBuffer // nil without stdin
}

// Stdin returns the process's standard input, as the client sends it
// (SendInput), ending with io.EOF at CloseStdin; a process started without
// stdin reads io.EOF at once. Reads also end when the process is signalled
// or its sandbox goes away.
func (c *Command) Stdin() io.Reader {
	if c.stdin == nil {
		return strings.NewReader("")
	}
	return stdinReader{ctx: c.ctx, b: c.stdin}
}

// Stdout writes text to the process's stdout.
func (c *Command) Stdout(text string) error { return c.output(Stdout, []byte(text)) }

// Stderr writes text to the process's stderr.
func (c *Command) Stderr(text string) error { return c.output(Stderr, []byte(text)) }

// Sleep waits d, or until the process is signalled or cancelled.
func (c *Command) Sleep(d time.Duration) error { return sleepCtx(c.ctx, d) }

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// errInstanceClosed is returned by a closed scripted sandbox.
var errInstanceClosed = errors.New("e2bserver: sandbox is closed")

// Start implements Runtime.
func (rt *ScriptedRuntime) Start(_ context.Context, spec SandboxSpec) (Instance, error) {
	ctx, cancel := context.WithCancel(context.Background())
	in := &scriptedInstance{
		rt:       rt,
		spec:     spec,
		files:    newMemFS(rt.Files),
		ctx:      ctx,
		cancel:   cancel,
		kernels:  make(map[string]*kernel),
		defaults: make(map[string]string),
		procs:    make(map[uint32]*scriptedProc),
		nextPID:  100,
	}
	for _, lang := range []string{"python", "javascript"} {
		k := in.newKernelLocked(lang, homeOf(defaultUser))
		in.defaults[lang] = k.info.ID
	}
	return in, nil
}

// scriptedInstance is a sandbox of ScriptedRuntime.
type scriptedInstance struct {
	rt     *ScriptedRuntime
	spec   SandboxSpec
	files  *memFS
	ctx    context.Context // done on Close
	cancel context.CancelFunc

	mu       sync.Mutex // protects the fields below; never held while blocking
	kernels  map[string]*kernel
	order    []string          // kernel IDs in creation order
	defaults map[string]string // language -> default kernel ID
	procs    map[uint32]*scriptedProc
	nextPID  uint32
	closed   bool
}

// kernel is an execution context.
type kernel struct {
	info  wire.ContextInfo
	count int            // executions so far
	state map[string]any // Cell.State
	busy  chanLock       // one execution at a time
}

type scriptedProc struct {
	spec   ProcessSpec
	cancel context.CancelCauseFunc
	stdin  *stdinBuffer // nil without stdin
}

// signalError is the cancellation cause of a signalled process.
type signalError struct{ sig Signal }

func (e signalError) Error() string { return fmt.Sprintf("signal %d", int(e.sig)) }

// normalizeLanguage names a language as E2B's interpreter does.
func normalizeLanguage(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	switch lang {
	case "":
		return "python"
	case "js":
		return "javascript"
	case "ts":
		return "typescript"
	}
	return lang
}

// newKernelLocked creates a context. The caller holds in.mu (or owns in).
func (in *scriptedInstance) newKernelLocked(lang, cwd string) *kernel {
	id := fmt.Sprintf("%s-%s-%s-%s-%s", randomToken(4), randomToken(2), randomToken(2), randomToken(2), randomToken(6))
	k := &kernel{
		info:  wire.ContextInfo{ID: id, Language: lang, Cwd: cwd},
		state: make(map[string]any),
		busy:  newChanLock(),
	}
	in.kernels[id] = k
	in.order = append(in.order, id)
	return k
}

// bound returns a context done when ctx is done or the sandbox closes.
func (in *scriptedInstance) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(in.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (in *scriptedInstance) PortOpen(port int) bool {
	return port == e2b.EnvdPort || port == e2b.InterpreterPort
}

func (in *scriptedInstance) Close() error {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.cancel()
	return nil
}

func (in *scriptedInstance) Execute(ctx context.Context, req wire.ExecuteRequest, emit func(wire.ExecutionEvent) error) error {
	ctx, cancel := in.bound(ctx)
	defer cancel()

	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return errInstanceClosed
	}
	var k *kernel
	if req.ContextID != "" {
		k = in.kernels[req.ContextID]
		if k == nil {
			in.mu.Unlock()
			return fmt.Errorf("context %s: %w", req.ContextID, fs.ErrNotExist)
		}
	} else {
		lang := normalizeLanguage(req.Language)
		k = in.kernels[in.defaults[lang]]
		if k == nil {
			k = in.newKernelLocked(lang, homeOf(defaultUser))
			in.defaults[lang] = k.info.ID
		}
	}
	in.mu.Unlock()

	select {
	case k.busy <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer k.busy.unlock()

	in.mu.Lock()
	k.count++
	cell := &Cell{
		Code:           req.Code,
		Language:       k.info.Language,
		ContextID:      k.info.ID,
		ExecutionCount: k.count,
		EnvVars:        overlay(in.spec.EnvVars, req.EnvVars),
		SandboxID:      in.spec.SandboxID,
		Template:       in.spec.Template,
		State:          k.state,
		ctx:            ctx,
		emit:           emit,
	}
	in.mu.Unlock()

	if err := emit(wire.ExecutionEvent{Type: wire.EventNumberOfExecutions, ExecutionCount: cell.ExecutionCount}); err != nil {
		return err
	}
	if reply, ok := in.rt.Replies[req.Code]; ok {
		return cell.Play(reply)
	}
	if in.rt.Exec != nil {
		return in.rt.Exec(ctx, cell)
	}
	return nil
}

// overlay returns base with top's entries on top (nil when both are empty).
func overlay(base, top map[string]string) map[string]string {
	if len(base) == 0 && len(top) == 0 {
		return nil
	}
	out := maps.Clone(base)
	if out == nil {
		out = make(map[string]string, len(top))
	}
	maps.Copy(out, top)
	return out
}

func (in *scriptedInstance) CreateContext(_ context.Context, req wire.CreateContextRequest) (wire.ContextInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return wire.ContextInfo{}, errInstanceClosed
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = homeOf(defaultUser)
	}
	return in.newKernelLocked(normalizeLanguage(req.Language), cwd).info, nil
}

func (in *scriptedInstance) ListContexts(context.Context) ([]wire.ContextInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errInstanceClosed
	}
	out := make([]wire.ContextInfo, 0, len(in.order))
	for _, id := range in.order {
		out = append(out, in.kernels[id].info)
	}
	return out, nil
}

func (in *scriptedInstance) RemoveContext(_ context.Context, id string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	k, err := in.contextLocked(id)
	if err != nil {
		return err
	}
	delete(in.kernels, id)
	in.order = slices.DeleteFunc(in.order, func(s string) bool { return s == id })
	if in.defaults[k.info.Language] == id {
		delete(in.defaults, k.info.Language)
	}
	return nil
}

func (in *scriptedInstance) RestartContext(_ context.Context, id string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	k, err := in.contextLocked(id)
	if err != nil {
		return err
	}
	k.count = 0
	k.state = make(map[string]any)
	return nil
}

// contextLocked returns the interpreter context id of a live instance. The
// caller holds in.mu.
func (in *scriptedInstance) contextLocked(id string) (*kernel, error) {
	if in.closed {
		return nil, errInstanceClosed
	}
	k, ok := in.kernels[id]
	if !ok {
		return nil, fmt.Errorf("context %s: %w", id, fs.ErrNotExist)
	}
	return k, nil
}

// checkOpen returns errInstanceClosed after Close.
func (in *scriptedInstance) checkOpen() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return errInstanceClosed
	}
	return nil
}

func (in *scriptedInstance) ReadFile(_ context.Context, p string) (io.ReadCloser, error) {
	if err := in.checkOpen(); err != nil {
		return nil, err
	}
	data, err := in.files.readFile(p)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(string(data))), nil
}

func (in *scriptedInstance) WriteFile(ctx context.Context, p string, r io.Reader) (FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return FileInfo{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return FileInfo{}, err
	}
	return in.files.writeFile(p, data)
}

func (in *scriptedInstance) Stat(_ context.Context, p string) (FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return FileInfo{}, err
	}
	return in.files.stat(p)
}

func (in *scriptedInstance) ListDir(_ context.Context, p string, depth int) ([]FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return nil, err
	}
	return in.files.listDir(p, depth)
}

func (in *scriptedInstance) MakeDir(_ context.Context, p string) (FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return FileInfo{}, err
	}
	return in.files.makeDir(p)
}

func (in *scriptedInstance) Remove(_ context.Context, p string) error {
	if err := in.checkOpen(); err != nil {
		return err
	}
	return in.files.remove(p)
}

func (in *scriptedInstance) Move(_ context.Context, src, dst string) (FileInfo, error) {
	if err := in.checkOpen(); err != nil {
		return FileInfo{}, err
	}
	return in.files.move(src, dst)
}

// commandLine is the shell line of a "sh -c LINE" process, else the command
// and its arguments joined by spaces.
func commandLine(spec ProcessSpec) string {
	switch path.Base(spec.Cmd) {
	case "bash", "sh", "zsh", "dash":
		for i, a := range spec.Args {
			if a == "-c" && i+1 < len(spec.Args) {
				return spec.Args[i+1]
			}
			if strings.HasPrefix(a, "-") && strings.Contains(a, "c") && !strings.HasPrefix(a, "--") && i+1 < len(spec.Args) {
				return spec.Args[i+1] // combined flags such as "-lc"
			}
		}
	}
	return strings.Join(append([]string{spec.Cmd}, spec.Args...), " ")
}

func (in *scriptedInstance) RunProcess(ctx context.Context, spec ProcessSpec, hooks ProcessHooks) (ProcessExit, error) {
	ctx, cancelBound := in.bound(ctx)
	defer cancelBound()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return ProcessExit{}, errInstanceClosed
	}
	pid := in.nextPID
	in.nextPID++
	proc := &scriptedProc{spec: spec, cancel: cancel}
	if spec.Stdin {
		proc.stdin = &stdinBuffer{}
	}
	in.procs[pid] = proc
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(in.procs, pid)
		in.mu.Unlock()
	}()

	if err := hooks.Started(pid); err != nil {
		return ProcessExit{}, err
	}
	cmd := &Command{
		Line:      commandLine(spec),
		Spec:      spec,
		PID:       pid,
		EnvVars:   overlay(in.spec.EnvVars, spec.Envs),
		SandboxID: in.spec.SandboxID,
		ctx:       pctx,
		output:    hooks.Output,
		stdin:     proc.stdin,
	}

	code, err := 0, error(nil)
	if reply, ok := in.rt.Commands[cmd.Line]; ok {
		code, err = reply.play(cmd)
	} else if in.rt.Command != nil {
		code, err = in.rt.Command(pctx, cmd)
	}

	var sig signalError
	if errors.As(context.Cause(pctx), &sig) {
		status := "signal: killed"
		if sig.sig == SIGTERM {
			status = "signal: terminated"
		}
		return ProcessExit{ExitCode: -1, Exited: false, Status: status}, nil
	}
	if ctx.Err() != nil {
		return ProcessExit{}, ctx.Err()
	}
	if err != nil {
		return ProcessExit{}, err
	}
	return ProcessExit{ExitCode: int32(code), Exited: true, Status: fmt.Sprintf("exit status %d", code)}, nil
}

// play emits the reply through cmd and returns its exit code.
func (r CommandReply) play(c *Command) (int, error) {
	if err := c.Sleep(r.Duration); err != nil {
		return 0, err
	}
	if r.Stdout != "" {
		if err := c.Stdout(r.Stdout); err != nil {
			return 0, err
		}
	}
	if r.Stderr != "" {
		if err := c.Stderr(r.Stderr); err != nil {
			return 0, err
		}
	}
	return r.ExitCode, nil
}

func (in *scriptedInstance) ListProcesses(context.Context) ([]ProcessInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errInstanceClosed
	}
	out := make([]ProcessInfo, 0, len(in.procs))
	for _, pid := range slices.Sorted(maps.Keys(in.procs)) {
		out = append(out, ProcessInfo{PID: pid, Spec: in.procs[pid].spec})
	}
	return out, nil
}

// WriteStdin implements StdinWriter.
func (in *scriptedInstance) WriteStdin(_ context.Context, pid uint32, data []byte) error {
	b, err := in.stdinOf(pid)
	if err != nil {
		return err
	}
	return b.write(data)
}

// CloseStdin implements StdinWriter.
func (in *scriptedInstance) CloseStdin(_ context.Context, pid uint32) error {
	b, err := in.stdinOf(pid)
	if err != nil {
		return err
	}
	return b.close()
}

// stdinOf returns the standard input of process pid.
func (in *scriptedInstance) stdinOf(pid uint32) (*stdinBuffer, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	p, ok := in.procs[pid]
	switch {
	case !ok:
		return nil, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	case p.stdin == nil:
		return nil, fmt.Errorf("process %d was started without stdin: %w", pid, fs.ErrClosed)
	}
	return p.stdin, nil
}

func (in *scriptedInstance) SignalProcess(_ context.Context, pid uint32, sig Signal) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	p, ok := in.procs[pid]
	if !ok {
		return fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	}
	p.cancel(signalError{sig: sig})
	return nil
}
