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

	"go.opentelemetry.io/otel/metric"
)

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
// When the code could not be run, the error is a *TemplateNotReadyError, an
// *InstallError or a *SandboxError. Those that happened before the code
// started keep the provider's transient or terminal classification
// (IsTransient), except that a sandbox found gone is retryable (the next
// attempt gets a fresh sandbox), so Retry(exec) retries what may succeed (port
// not open, connection refused, rate limits) in a fresh sandbox; an error
// after the code may have started is permanent: the code is never run twice
// automatically. A call whose ctx is done before it takes a sandbox, or that
// Close interrupted, fails with a permanent error matching ErrClosed or ctx's
// cause. Bad input (a negative timeout, an invalid package name) is a
// permanent error saying what was wrong.
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
	live        map[*lease]struct{}  // every sandbox created and not yet killed
	pool        chan *lease          // ready sandboxes; nil without a warm pool
	poolPending int                  // pool sandboxes being prepared
	poolIdle    map[*lease]time.Time // the sandboxes in pool, with their end times
	poolChanged chan struct{}        // closed and replaced when a fill ends
	fillFails   int                  // fills that failed so far
	fillErr     error                // the last failed fill's error
	wg          sync.WaitGroup       // calls in flight, pool fills and background kills

	slackRefused atomic.Bool // the provider refused pooled sandboxes' longer lifetime

	poolGauge metric.Registration // the pool's tta.pool.size callback, or nil

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
		owner:          DefaultOwner,
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
	if cfg.createLimit != nil {
		cfg.provider = LimitCreates(cfg.provider, *cfg.createLimit)
	}
	if cfg.reapAtStart {
		reapAtStart(&cfg)
	}
	if cfg.initWindow > 0 {
		cfg.template.Window = cfg.initWindow
	}
	window := cfg.template.InitWindow()
	p := &CodeExecutionPrimitive{
		cfg:       cfg,
		window:    window,
		ready:     newReadiness(window),
		killer:    Named("tta.sandbox.kill", Retry[Sandbox, struct{}](Func[Sandbox, struct{}](killOnce), MaxAttempts(3), InitialInterval(250*time.Millisecond))),
		live:      make(map[*lease]struct{}),
		closeDone: make(chan struct{}),
	}
	background := context.Background()
	if cfg.telemetry != nil { // the pool's fills report to it
		background = ContextWithTelemetry(background, cfg.telemetry)
	}
	p.closing, p.cancel = context.WithCancelCause(background)
	if cfg.warm > 0 {
		p.pool = make(chan *lease, cfg.warm)
		p.poolChanged = make(chan struct{})
		if err := p.observePool(); err != nil {
			p.cancel(ErrClosed)
			if cfg.release != nil {
				cfg.release()
			}
			return nil, fmt.Errorf("tta: NewCodeExecution: register the warm pool's size gauge: %w", err)
		}
		p.refill()
		p.wg.Add(1)
		go p.tendPool()
	}
	return p, nil
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
func (p *CodeExecutionPrimitive) Execute(ctx context.Context, in CodeInput) (out CodeOutput, err error) {
	ctx, o := p.observe(ctx, spanCodeExecution, in)
	defer o.endCode(ctx, &out, &err)
	return p.execute(ctx, o, in)
}

// execute is Execute, observed by o.
func (p *CodeExecutionPrimitive) execute(ctx context.Context, o observation, in CodeInput) (CodeOutput, error) {
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
	if o.recording() {
		o.set(attrSandboxID.String(l.sb.ID()), attrPooled.Bool(l.pooled))
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
	if p.poolGauge != nil {
		_ = p.poolGauge.Unregister() // the pool is being drained; fails only if the meter is gone
	}
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
// a new one, after starting to refill the pool, which is behind. The refill
// runs beside the call: neither waits for the other, and their creates happen
// in no set order. A call whose ctx is already done takes nothing from the
// pool.
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
	cctx, co := startStep(ctx, spanCreate)
	sb, err := p.cfg.provider.Create(cctx, CreateRequest{
		Template: tpl,
		Timeout:  timeout,
		Metadata: p.metadata(ctx),
		Network:  p.cfg.network,
	})
	if err == nil && isNil(sb) {
		err = errors.New("tta: provider returned no sandbox and no error")
	}
	if err != nil {
		err = failed(ctx, false, &SandboxError{Op: "create", Template: tpl.String(), Err: err})
		co.created(ctx, tpl.String(), "", time.Since(start), err)
		return nil, err
	}
	co.created(ctx, tpl.String(), sb.ID(), time.Since(start), nil)
	l := &lease{sb: sb, template: tpl.String(), created: start, extended: start, lifetime: timeout,
		telemetry: co.t}
	l.sandboxLive(ctx, 1)
	if !p.track(l) {
		_ = p.killLease(ctx, l)
		return nil, Permanent(ErrClosed)
	}
	stop := p.keepAlive(ctx, l) // the init window and pip may take a while
	readyAt := time.Now()
	rctx, ro := startStep(ctx, spanReady)
	if ro.t != nil { // each probe is a retry: counted and traced, not logged
		rctx = ContextWithTelemetry(rctx, ro.t.quiet)
	}
	l.probes, err = waitReady(rctx, p.ready, sb, tpl, p.window)
	ro.readied(ctx, l, p.window, l.probes, time.Since(readyAt), err)
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
	w, _ := WorkflowFrom(ctx)
	md := make(map[string]string, len(p.cfg.metadata)+len(w.Metadata)+3)
	maps.Copy(md, p.cfg.metadata)
	maps.Copy(md, w.Metadata)
	md["tta.template"] = p.cfg.template.Ref()
	if w.ID != "" {
		md["tta.workflow"] = w.ID
	}
	if w.RunID != "" {
		md["tta.run"] = w.RunID
	}
	return p.ownership(ctx).Metadata(md)
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
