package tta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Languages the code interpreter of E2B's default template runs. Custom
// templates may have fewer or more; CodeInput.Language is passed to the
// sandbox as given.
const (
	LanguagePython     = "python"
	LanguageJavaScript = "javascript"
	LanguageTypeScript = "typescript"
	LanguageBash       = "bash"
	LanguageR          = "r"
	LanguageJava       = "java"
)

// CodeInput is the code to run and how. It is a plain value; the primitive
// does not modify it or keep it after Execute returns.
type CodeInput struct {
	// Code is the source to run.
	Code string
	// Language is the interpreter's language; "" means LanguagePython. It is
	// passed to the sandbox as given, never ignored: a template without that
	// language fails the call.
	Language string
	// Timeout bounds the run of the code (not the sandbox's start). 0 means no
	// bound other than ctx's. When it passes, Execute fails with an error
	// matching ErrCodeTimeout.
	Timeout time.Duration
	// Env holds environment variables for this run. It may be nil.
	Env map[string]string
	// Files are written into the sandbox, in order, before the code runs.
	Files []File
	// Packages are installed with pip before the code runs, in addition to
	// those of WithPackages; a Session installs each package once.
	Packages []string
	// OnStdout and OnStderr, when not nil, receive the code's output as it
	// arrives, possibly from another goroutine but never concurrently. If
	// either panics, the run is cancelled, the sandbox killed, and Execute
	// re-panics in its own goroutine with a *PanicError that carries the
	// value and the callback's stack. A callback must not call Close on the
	// primitive running it: Close waits for the call, which waits for the
	// callback.
	OnStdout func(text string)
	OnStderr func(text string)
}

// File is a file to write into the sandbox before the code runs. It is a plain
// value.
type File struct {
	// Path is where to write, absolute or relative to the user's home.
	Path string
	// Data is the file's content.
	Data []byte
}

// ExecutionPath says how a CodeOutput's sandbox got what the code needed.
type ExecutionPath string

// Execution paths.
const (
	// PathTemplate: the template provided everything; nothing was installed.
	PathTemplate ExecutionPath = "template"
	// PathRuntimeInstall: packages were installed with pip at run time
	// (WithPackages, CodeInput.Packages), the field report's "Option C".
	PathRuntimeInstall ExecutionPath = "runtime-install"
)

// CodeOutput is the result of running code. When the code raised, Error is set
// and Success is false; Execute still returns a nil error unless
// WithCodeErrorsAsErrors was given. It is a plain value.
type CodeOutput struct {
	// Stdout and Stderr are everything the code printed.
	Stdout string
	Stderr string
	// Results are the values the code displayed (rich MIME data included).
	Results []Result
	// Error is the error the code raised, or nil.
	Error *ExecutionError
	// Success reports whether the code ran to the end without raising.
	Success bool
	// ExecutionCount is the interpreter's execution counter after the run: 1
	// for a fresh sandbox, growing across the calls of a Session.
	ExecutionCount int
	// Duration is how long the code ran.
	Duration time.Duration
	// Startup is how long the call waited for a ready sandbox: create,
	// readiness and package installs (near zero with a warm pool).
	Startup time.Duration
	// SandboxID is the sandbox the code ran in.
	SandboxID string
	// Template names the sandbox's template as Template.String does.
	Template string
	// Path says whether packages were installed at run time.
	Path ExecutionPath
	// Installed lists the packages installed with pip on this call's path:
	// those of WithPackages when the call prepared its own sandbox (not when
	// it came from the warm pool or belongs to a Session), and those of
	// CodeInput.Packages that the sandbox did not have yet.
	Installed []string
}

// Defaults of NewCodeExecution.
const (
	// DefaultSandboxTimeout is a sandbox's lifetime: the provider ends it then
	// even if a kill was lost. A Session extends it while in use.
	DefaultSandboxTimeout = 5 * time.Minute
	// DefaultKillTimeout bounds the cleanup of one sandbox, retries included.
	DefaultKillTimeout = 15 * time.Second
)

// Option configures NewCodeExecution. Options are applied in order; when two
// set the same thing, the last one wins. An Option is immutable and may be
// shared by any number of NewCodeExecution calls.
type Option func(*codeConfig)

type codeConfig struct {
	provider           Provider
	template           Template
	initWindow         time.Duration // 0: the template's
	warm               int
	packages           []string
	codeErrorsAsErrors bool
	sandboxTimeout     time.Duration
	killTimeout        time.Duration
	metadata           map[string]string
	release            func() // called by Close for a provider NewCodeExecution made
}

// WithProvider sets where sandboxes come from: the in-memory fake of package
// ttatest, or a Provider of your own. Without it (and without
// WithE2BClient), NewCodeExecution uses E2B configured from the environment.
// WithProvider panics if p is nil.
func WithProvider(p Provider) Option {
	if isNil(p) {
		misuse("WithProvider", "provider is nil; pass a Provider, or omit the option to use E2B from E2B_API_KEY")
	}
	return func(c *codeConfig) { c.provider = p }
}

// WithTemplate sets the template sandboxes start from. The default is the zero
// Template: E2B's default code-interpreter template. WithTemplate panics if
// t.Window < 0.
func WithTemplate(t Template) Option {
	if t.Window < 0 {
		misuse("WithTemplate", "Template.Window must be >= 0, got %v; use 0 for the default init window", t.Window)
	}
	return func(c *codeConfig) { c.template = t }
}

// WithInitWindow sets how long a new sandbox's interpreter is waited for,
// whatever the template: it overrides Template.InitWindow (60 s for the
// default template, 120 s for a custom one). WithInitWindow panics if d <= 0.
func WithInitWindow(d time.Duration) Option {
	if d <= 0 {
		misuse("WithInitWindow", "window must be > 0, got %v; omit the option for the template's default", d)
	}
	return func(c *codeConfig) { c.initWindow = d }
}

// WithWarmPool keeps n ready sandboxes (created, probed, packages installed)
// ahead of demand, so that Execute does not wait for them. Each is used by one
// call and then killed, never reused; the pool refills in the background after
// each use and is drained on Close. A pooled sandbox that failed to start is
// not replaced until the next call (or WaitWarm). Idle pooled sandboxes cost
// what running sandboxes cost. The default is 0, no pool. WithWarmPool panics
// if n < 0.
//
// A pooled call has the whole sandbox timeout (WithSandboxTimeout) ahead of
// it, as a cold one has from its create: pooled sandboxes are created with an
// eighth more, and one that waited longer than that eighth is extended when a
// call takes it, one request on the call's path. When the provider refuses
// the longer lifetime (the timeout is at its maximum) but accepts the timeout
// itself, pooled sandboxes are created with the timeout and every call
// extends the one it takes.
//
// With a pool, Execute does not wait for the kill of the sandbox it used
// either: the kill runs in the background (retried, as every kill is), so a
// pooled call costs about one run of the code. Close waits for every kill
// still in flight, tries again those that failed and reports them, so a
// primitive with a pool must be closed; the pool's idle sandboxes need Close
// anyway. A call that panics (see CodeInput.OnStdout) kills its sandbox before
// the panic goes on, pool or not. Without a pool, Execute kills the sandbox
// before returning, so a primitive that is never closed leaves nothing behind
// once its calls have returned.
func WithWarmPool(n int) Option {
	if n < 0 {
		misuse("WithWarmPool", "size must be >= 0, got %d; use 0 for no pool", n)
	}
	return func(c *codeConfig) { c.warm = n }
}

// WithCodeErrorsAsErrors makes Execute return the code's own error as a Go
// error (an *ExecutionError matching ErrCodeFailed, never retried) along with
// the output, for flows that branch on it (Fallback, Saga). By default a code
// error is a result: CodeOutput.Error is set and Execute returns nil.
func WithCodeErrorsAsErrors() Option {
	return func(c *codeConfig) { c.codeErrorsAsErrors = true }
}

// WithSandboxTimeout sets each sandbox's lifetime at the provider (default
// DefaultSandboxTimeout, 5 min): the provider ends a sandbox then even if its
// kill was lost, and a Session's sandbox expires after this long unused. It
// does not bound how long code runs (CodeInput.Timeout and ctx do): while a
// call uses a sandbox, from its create or its call's start, its timeout is set
// again whenever half of it is left, so a sandbox outlives the process that
// used it by at most this long (nine eighths of it for a pooled sandbox,
// created to live an eighth longer: see WithWarmPool). WithSandboxTimeout
// panics if d <= 0.
func WithSandboxTimeout(d time.Duration) Option {
	if d <= 0 {
		misuse("WithSandboxTimeout", "timeout must be > 0, got %v", d)
	}
	return func(c *codeConfig) { c.sandboxTimeout = d }
}

// WithKillTimeout bounds the cleanup of one sandbox, retries included (default
// DefaultKillTimeout, 15 s). Cleanup runs even when the caller's context is
// done. WithKillTimeout panics if d <= 0.
func WithKillTimeout(d time.Duration) Option {
	if d <= 0 {
		misuse("WithKillTimeout", "timeout must be > 0, got %v", d)
	}
	return func(c *codeConfig) { c.killTimeout = d }
}

// WithMetadata labels every sandbox with md (copied), in addition to the labels
// the primitive sets: "tta.template", and "tta.workflow" and "tta.run" when
// the context carries a Workflow.
func WithMetadata(md map[string]string) Option {
	md = maps.Clone(md)
	return func(c *codeConfig) { c.metadata = md }
}

// CodeExecutionPrimitive runs code in sandboxes: each Execute gets a fresh
// sandbox (from the warm pool when configured), waits for its interpreter,
// installs packages, writes files, runs the code, and kills the sandbox.
// Stateless calls never see each other's variables or files; for state across
// calls use NewSession.
//
// Kill guarantee: every sandbox the primitive creates is killed, on every
// path: success, the code's error, an infrastructure error, the init window
// closing, a timeout, the caller's cancellation, a panic in a callback, and
// Close. Cleanup runs with context.WithoutCancel(ctx) and its own bound
// (WithKillTimeout), retrying a failed kill. A sandbox whose kill still failed
// stays tracked: Close tries again and reports it. The provider's sandbox
// timeout (WithSandboxTimeout) is the last resort.
//
// Errors: the code's own error is a result (CodeOutput.Error), not retried.
// Infrastructure errors are *SandboxError or *TemplateNotReadyError values;
// those that happened before the code started keep the provider's transient or
// terminal classification, except that a sandbox found gone is retryable (the
// next attempt gets a fresh sandbox), so Retry(exec) retries what may succeed
// (port not open, connection refused, rate limits) in a fresh sandbox, and an
// error after the code may have started is permanent: the code is never run
// twice automatically. A call whose ctx is done before it takes a sandbox, or
// that Close interrupted, fails with a permanent error. Bad input (a negative timeout, an invalid
// package name) is a permanent error.
//
// The zero value is not usable; create one with NewCodeExecution. A
// CodeExecutionPrimitive is safe for concurrent use; Close may be called
// concurrently with Execute and interrupts it.
type CodeExecutionPrimitive struct {
	cfg    codeConfig                     // immutable after NewCodeExecution
	window time.Duration                  // the init window
	ready  Primitive[*probeRun, struct{}] // the readiness wait
	killer Primitive[Sandbox, struct{}]   // one kill, retried

	closing context.Context         // done once Close starts, with cause ErrClosed
	cancel  context.CancelCauseFunc // cancels closing

	mu          sync.Mutex // protects closed, live and the pool's fields below
	closed      bool
	live        map[*lease]struct{} // every sandbox created and not yet killed
	pool        chan *lease         // ready sandboxes; nil without a warm pool
	poolPending int                 // pool sandboxes being prepared
	poolChanged chan struct{}       // closed and replaced when a fill ends
	fillFails   int                 // fills that failed so far
	fillErr     error               // the last failed fill's error
	wg          sync.WaitGroup      // calls in flight, pool fills and background kills

	slackRefused atomic.Bool // the provider refused pooled sandboxes' longer lifetime

	closeDone chan struct{} // closed when the first Close has finished
	closeErr  error         // set by the first Close before closeDone is closed
}

// NewCodeExecution returns a CodeExecutionPrimitive configured by opts.
//
// Without WithProvider or WithE2BClient it uses E2B, configured from the
// environment (E2B_API_KEY, E2B_DOMAIN, ...), and returns an error matching
// ErrNoProvider, naming E2B_API_KEY, when that variable is not set. With
// WithWarmPool it starts filling the pool at once, in the background.
//
// Close the primitive when done with it: Close kills every sandbox it still
// holds. NewCodeExecution panics if an option is nil.
func NewCodeExecution(opts ...Option) (*CodeExecutionPrimitive, error) {
	cfg := codeConfig{
		sandboxTimeout: DefaultSandboxTimeout,
		killTimeout:    DefaultKillTimeout,
	}
	for i, opt := range opts {
		if opt == nil {
			misuse("NewCodeExecution", "the %s option is nil; pass options made by WithProvider, WithTemplate and the like", ordinal(i))
		}
		opt(&cfg)
	}
	if cfg.provider == nil {
		p, release, err := providerFromEnv()
		if err != nil {
			return nil, err
		}
		cfg.provider, cfg.release = p, release
	}
	if cfg.initWindow > 0 {
		cfg.template.Window = cfg.initWindow
	}
	window := cfg.template.InitWindow()
	p := &CodeExecutionPrimitive{
		cfg:       cfg,
		window:    window,
		ready:     newReadiness(window),
		killer:    Retry[Sandbox, struct{}](Func[Sandbox, struct{}](killOnce), MaxAttempts(3), InitialInterval(250*time.Millisecond)),
		live:      make(map[*lease]struct{}),
		closeDone: make(chan struct{}),
	}
	p.closing, p.cancel = context.WithCancelCause(context.Background())
	if cfg.warm > 0 {
		p.pool = make(chan *lease, cfg.warm)
		p.poolChanged = make(chan struct{})
		p.refill()
	}
	return p, nil
}

func killOnce(ctx context.Context, sb Sandbox) (struct{}, error) {
	return struct{}{}, sb.Kill(ctx)
}

// String names the primitive in messages (Fallback labels its errors with
// it): the template, followed by "+ pip install <packages>" when packages are
// installed at run time.
func (p *CodeExecutionPrimitive) String() string {
	s := p.cfg.template.String()
	if len(p.cfg.packages) > 0 {
		s += " + pip install " + strings.Join(p.cfg.packages, " ")
	}
	return s
}

// Template returns the template sandboxes start from, with its effective init
// window in Window.
func (p *CodeExecutionPrimitive) Template() Template {
	t := p.cfg.template
	t.Window = p.window
	return t
}

// Execute runs in.Code in a fresh sandbox and kills the sandbox: before
// returning without a warm pool, in the background with one (see
// WithWarmPool); see the type's documentation for errors and cleanup. On
// error the output holds what is known (the sandbox, the template, partial
// output).
func (p *CodeExecutionPrimitive) Execute(ctx context.Context, in CodeInput) (CodeOutput, error) {
	out := CodeOutput{Template: p.cfg.template.String(), Path: p.path(in)}
	if err := in.validate(); err != nil {
		return out, Permanent(err)
	}
	ctx, done, err := p.begin(ctx, nil)
	if err != nil {
		return out, err
	}
	defer done()

	start := time.Now()
	l, err := p.acquire(ctx)
	if err != nil {
		return out, p.explain(ctx, retryInFreshSandbox(err))
	}
	panicking := true // still true in the deferred call only if run panics
	defer func() {
		if p.pool != nil && !panicking {
			p.killLater(ctx, l)
		} else {
			_ = p.killLease(ctx, l) // a failed kill stays tracked for Close
		}
		if l.pooled {
			p.refill() // after the use, so that preparing the next one does not slow this one
		}
	}()
	out, err = p.run(ctx, l, in, "", start)
	panicking = false
	if !l.pooled && len(l.provisioned) > 0 {
		out.Installed = append(slices.Clone(l.provisioned), out.Installed...)
	}
	return out, p.explain(ctx, retryInFreshSandbox(err))
}

// mayHaveStarted reports whether the code of a run that failed with err may
// have started: not when the provider says that the request can be tried
// again (it never reached the interpreter) or, with NotStarted, that the code
// did not start (see Sandbox.RunCode).
func mayHaveStarted(err error) bool {
	if isTransient(err) {
		return false
	}
	ns, ok := errors.AsType[notStartedError](err)
	return !ok || !ns.NotStarted()
}

// notStartedError is an error that says whether the code of a failed run did
// not start (see Sandbox.RunCode).
type notStartedError interface {
	error
	NotStarted() bool
}

// retryInFreshSandbox makes the error of a stateless call whose sandbox was
// gone before its code started retryable, since the next attempt gets a fresh
// sandbox; other errors, nil included, are returned unchanged.
func retryInFreshSandbox(err error) error {
	if !errors.Is(err, ErrSandboxGone) {
		return err
	}
	se, ok := errors.AsType[*SandboxError](err)
	if !ok || se.Started {
		return err
	}
	return &freshSandboxError{se}
}

// freshSandboxError is a *SandboxError for a sandbox that was gone before the
// code started, in a call whose retry gets a fresh sandbox.
type freshSandboxError struct{ *SandboxError }

func (e *freshSandboxError) Unwrap() error { return e.SandboxError }

// Transient reports true: a fresh sandbox may succeed.
func (e *freshSandboxError) Transient() bool { return true }

// Close kills every sandbox the primitive still holds (pooled, in use by
// calls in flight, held by sessions, or whose kill failed before), interrupts
// calls in flight and waits for them and for every kill to finish, those
// running in the background after pooled calls included (see WithWarmPool).
// When Close returns, every sandbox the primitive created has been killed,
// or its kill failed and is reported. Calls after Close fail with ErrClosed.
// Close returns the errors of the kills that failed, joined, or nil; it is
// idempotent: later calls wait for the first to finish and return the same
// error. Since it waits for the calls in flight, it must not be called from
// their output callbacks (CodeInput.OnStdout, OnStderr), which they wait for:
// that call would never return.
func (p *CodeExecutionPrimitive) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.closeDone
		return p.closeErr
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel(ErrClosed)
	p.wg.Wait()
	p.closeErr = p.killAll()
	if p.cfg.release != nil {
		p.cfg.release()
	}
	close(p.closeDone)
	return p.closeErr
}

// killAll kills every tracked sandbox, concurrently, and joins the failures.
func (p *CodeExecutionPrimitive) killAll() error {
	p.mu.Lock()
	ls := make([]*lease, 0, len(p.live))
	for l := range p.live {
		ls = append(ls, l)
	}
	p.mu.Unlock()
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = p.killLease(context.Background(), l) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// begin registers a call in flight and returns its context, which Close (and
// stop, when not nil) cancels with cause ErrClosed, and the function that ends
// the call.
func (p *CodeExecutionPrimitive) begin(ctx context.Context, stop context.Context) (context.Context, func(), error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, Permanent(ErrClosed)
	}
	p.wg.Add(1)
	p.mu.Unlock()
	cctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(p.closing, func() { cancel(ErrClosed) })
	unhookStop := func() bool { return false }
	if stop != nil {
		unhookStop = context.AfterFunc(stop, func() { cancel(ErrClosed) })
	}
	return cctx, func() {
		unhook()
		unhookStop()
		cancel(nil)
		p.wg.Done()
	}, nil
}

// explain turns an error of a call that Close interrupted into one matching
// ErrClosed; other errors are returned unchanged.
func (p *CodeExecutionPrimitive) explain(ctx context.Context, err error) error {
	if err == nil || !errors.Is(context.Cause(ctx), ErrClosed) {
		return err
	}
	if errors.Is(err, ErrClosed) {
		return Permanent(err)
	}
	return Permanent(fmt.Errorf("%w during the call: %w", ErrClosed, err))
}

// acquire returns a ready sandbox: from the pool when one is there, otherwise
// a new one, after starting to refill the pool, which is behind. A call whose
// ctx is already done takes nothing from the pool.
func (p *CodeExecutionPrimitive) acquire(ctx context.Context) (*lease, error) {
	if ctx.Err() != nil {
		return nil, Permanent(&SandboxError{Op: "create", Template: p.cfg.template.String(), Err: context.Cause(ctx)})
	}
	if l := p.fromPool(ctx); l != nil {
		return l, nil
	}
	p.refill()
	return p.provision(ctx, p.cfg.sandboxTimeout)
}

// provision creates a sandbox that lives timeout, tracks it, waits for its
// interpreter and installs the configured packages. On failure the sandbox is
// killed.
func (p *CodeExecutionPrimitive) provision(ctx context.Context, timeout time.Duration) (*lease, error) {
	tpl := p.cfg.template
	start := time.Now()
	sb, err := p.cfg.provider.Create(ctx, CreateRequest{
		Template: tpl,
		Timeout:  timeout,
		Metadata: p.metadata(ctx),
	})
	if err == nil && isNil(sb) {
		err = errors.New("tta: provider returned no sandbox and no error")
	}
	if err != nil {
		serr := &SandboxError{Op: "create", Template: tpl.String(), Err: err}
		if ctx.Err() == nil && !isTransient(err) {
			return nil, Permanent(serr)
		}
		return nil, serr
	}
	l := &lease{sb: sb, template: tpl.String(), created: start, extended: start, lifetime: timeout}
	if !p.track(l) {
		_ = p.killLease(ctx, l)
		return nil, Permanent(ErrClosed)
	}
	stop := p.keepAlive(ctx, l) // the init window and pip may take a while
	l.probes, err = waitReady(ctx, p.ready, sb, tpl, p.window)
	if err == nil {
		l.provisioned, err = p.install(ctx, l, p.cfg.packages)
	}
	stop()
	if err != nil {
		_ = p.killLease(ctx, l)
		return nil, err
	}
	l.startup = time.Since(start)
	return l, nil
}

// metadata returns the labels of a new sandbox.
func (p *CodeExecutionPrimitive) metadata(ctx context.Context) map[string]string {
	md := maps.Clone(p.cfg.metadata)
	if md == nil {
		md = make(map[string]string, 3)
	}
	md["tta.template"] = p.cfg.template.Ref()
	if w, ok := WorkflowFrom(ctx); ok {
		if w.ID != "" {
			md["tta.workflow"] = w.ID
		}
		if w.RunID != "" {
			md["tta.run"] = w.RunID
		}
	}
	return md
}

// track records l as live, unless the primitive is closed.
func (p *CodeExecutionPrimitive) track(l *lease) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.live[l] = struct{}{}
	return true
}

// killLater kills l's sandbox in the background, as killLease does. It must
// be called by a call in flight (begin), so that Close, which waits for p.wg,
// waits for this kill too; a kill that fails leaves l tracked, and Close
// tries again.
func (p *CodeExecutionPrimitive) killLater(ctx context.Context, l *lease) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.killLease(ctx, l)
	}()
}

// killLease kills l's sandbox within the kill timeout, even when ctx is done,
// and stops tracking it once killed.
func (p *CodeExecutionPrimitive) killLease(ctx context.Context, l *lease) error {
	err := l.kill(ctx, p.cfg.killTimeout, p.killer)
	if err == nil {
		p.mu.Lock()
		delete(p.live, l)
		p.mu.Unlock()
	}
	return err
}

// path tells whether a call with in installs packages at run time.
func (p *CodeExecutionPrimitive) path(in CodeInput) ExecutionPath {
	if len(p.cfg.packages) > 0 || len(in.Packages) > 0 {
		return PathRuntimeInstall
	}
	return PathTemplate
}

// run installs in.Packages, writes in.Files and runs in.Code in l's sandbox,
// in the interpreter context contextID ("" for the default one). start is
// when the call began, for CodeOutput.Startup.
func (p *CodeExecutionPrimitive) run(ctx context.Context, l *lease, in CodeInput, contextID string, start time.Time) (CodeOutput, error) {
	out := CodeOutput{SandboxID: l.sb.ID(), Template: l.template, Path: p.path(in)}
	fail := func(op string, started bool, err error) (CodeOutput, error) {
		serr := &SandboxError{Op: op, SandboxID: l.sb.ID(), Template: l.template, Started: started, Err: err}
		if started || (ctx.Err() == nil && !isTransient(err)) {
			return out, Permanent(serr)
		}
		return out, serr
	}
	defer p.keepAlive(ctx, l)()

	installed, err := p.install(ctx, l, in.Packages)
	out.Installed = installed
	if err != nil {
		return out, err
	}
	for _, f := range in.Files {
		if err := l.sb.WriteFile(ctx, f.Path, f.Data); err != nil {
			return fail("upload", false, fmt.Errorf("write %s: %w", f.Path, err))
		}
	}
	out.Startup = time.Since(start)

	runCtx, cancelRun := ctx, context.CancelCauseFunc(nil)
	if in.OnStdout != nil || in.OnStderr != nil { // a panicking callback cancels the run
		runCtx, cancelRun = context.WithCancelCause(ctx)
		defer cancelRun(nil)
	}
	if in.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(runCtx, in.Timeout, errCodeTimedOut)
		defer cancel()
	}
	var guard callbackGuard
	req := RunRequest{
		Code:      in.Code,
		Language:  in.language(),
		ContextID: contextID,
		EnvVars:   maps.Clone(in.Env),
		Timeout:   in.Timeout,
		OnStdout:  guard.wrap(in.OnStdout, cancelRun),
		OnStderr:  guard.wrap(in.OnStderr, cancelRun),
	}
	ranAt := time.Now()
	exec, err := l.sb.RunCode(runCtx, req)
	out.Duration = time.Since(ranAt)
	if pe := guard.panicked(); pe != nil {
		panic(pe) // the caller's deferred kill runs first
	}
	out.Stdout, out.Stderr = exec.Stdout, exec.Stderr
	out.Results = exec.Results
	out.Error = exec.Error
	out.ExecutionCount = exec.ExecutionCount
	if err != nil {
		if ctx.Err() == nil && in.Timeout > 0 && (context.Cause(runCtx) == errCodeTimedOut ||
			out.Duration >= in.Timeout && errors.Is(err, context.DeadlineExceeded)) {
			err = &codeTimeoutError{d: in.Timeout, err: err}
		}
		return fail("run", mayHaveStarted(err), err)
	}
	if exec.Error != nil {
		if p.cfg.codeErrorsAsErrors {
			return out, exec.Error
		}
		return out, nil
	}
	out.Success = true
	return out, nil
}

// errCodeTimedOut is the cause of a run's context when CodeInput.Timeout
// passed.
var errCodeTimedOut = errors.New("tta: code timeout")

// codeTimeoutError is the error of a run longer than CodeInput.Timeout. It
// matches ErrCodeTimeout and context.DeadlineExceeded and unwraps to the
// provider's error.
type codeTimeoutError struct {
	d   time.Duration
	err error
}

func (e *codeTimeoutError) Error() string {
	return fmt.Sprintf("tta: code ran longer than its %v timeout: %v", e.d, e.err)
}

func (e *codeTimeoutError) Is(target error) bool {
	return target == ErrCodeTimeout || target == context.DeadlineExceeded
}

func (e *codeTimeoutError) Unwrap() error { return e.err }

// callbackGuard runs output callbacks, turning the first panic into a
// *PanicError kept for the caller's goroutine and cancelling the run.
type callbackGuard struct {
	mu     sync.Mutex // protects pe
	pe     *PanicError
	callMu sync.Mutex // serialises the callbacks
}

func (g *callbackGuard) wrap(f func(string), cancel context.CancelCauseFunc) func(string) {
	if f == nil {
		return nil
	}
	return func(text string) {
		g.callMu.Lock()
		defer g.callMu.Unlock()
		if g.panicked() != nil {
			return
		}
		defer func() {
			if v := recover(); v != nil {
				pe := newPanicError(v)
				g.mu.Lock()
				g.pe = pe
				g.mu.Unlock()
				cancel(pe)
			}
		}()
		f(text)
	}
}

func (g *callbackGuard) panicked() *PanicError {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pe
}

// language returns in.Language, or LanguagePython when it is empty.
func (in CodeInput) language() string {
	if in.Language == "" {
		return LanguagePython
	}
	return in.Language
}

// validate reports bad input as an error (never a panic: it is run-time data).
func (in CodeInput) validate() error {
	if in.Timeout < 0 {
		return fmt.Errorf("tta: CodeInput.Timeout must be >= 0, got %v; use 0 to bound the run by ctx alone", in.Timeout)
	}
	for i, f := range in.Files {
		if f.Path == "" {
			return fmt.Errorf("tta: CodeInput.Files[%d] has an empty Path; give the path to write it to in the sandbox, such as \"data.csv\"", i)
		}
	}
	for _, pkg := range in.Packages {
		if err := checkPackage(pkg); err != nil {
			return fmt.Errorf("tta: CodeInput.Packages: %w", err)
		}
	}
	return nil
}

// lease is one sandbox the primitive created, from creation to kill. Its
// holder (one call, a session, or the pool) is the only one to use the
// sandbox; kill may be called by anyone, any number of times.
type lease struct {
	sb       Sandbox
	template string    // Template.String of its template
	created  time.Time // when Create was called
	startup  time.Duration
	probes   int
	// provisioned lists the packages installed while the sandbox was
	// prepared (WithPackages).
	provisioned []string
	// pooled reports whether the sandbox was prepared ahead of demand.
	pooled bool

	// Owned by the holder.
	extended  time.Time       // when its timeout was last set (created, then SetTimeout)
	lifetime  time.Duration   // the timeout set then
	installed map[string]bool // packages installed so far

	mu      sync.Mutex // protects killed, killing and killErr
	killed  bool
	killing chan struct{} // closed when the kill in progress ends; nil if none
	killErr error         // the last kill's error
}

// kill kills the sandbox unless it already was. A kill in progress is waited
// for, not repeated. It runs with context.WithoutCancel(ctx) bounded by
// timeout, so a cancelled caller still cleans up.
func (l *lease) kill(ctx context.Context, timeout time.Duration, killer Primitive[Sandbox, struct{}]) error {
	l.mu.Lock()
	if l.killed {
		l.mu.Unlock()
		return nil
	}
	if ch := l.killing; ch != nil {
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.killErr
	}
	ch := make(chan struct{})
	l.killing = ch
	l.mu.Unlock()

	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	_, err := killer.Execute(kctx, l.sb)
	cancel()
	if err != nil {
		err = &SandboxError{Op: "kill", SandboxID: l.sb.ID(), Template: l.template, Err: err}
	}

	l.mu.Lock()
	l.killing = nil
	l.killed = err == nil
	l.killErr = err
	l.mu.Unlock()
	close(ch)
	return err
}
