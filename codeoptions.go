package tta

import (
	"maps"
	"slices"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// Defaults of NewCodeExecution.
const (
	// DefaultSandboxTimeout is a sandbox's lifetime, 5 minutes, E2B's own
	// default (e2b.DefaultSandboxTimeout): the provider ends it then even if
	// a kill was lost. A call extends it while it uses the sandbox.
	DefaultSandboxTimeout = e2b.DefaultSandboxTimeout
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
	telemetry          *Telemetry                   // nil: only the calls' contexts' Telemetry
	release            func()                       // called by Close for a provider NewCodeExecution made
	owner              string                       // labels every sandbox; see WithOwner
	reapAtStart        bool                         // see WithReapAtStart
	reapReport         func(*e2b.ReapReport, error) // may be nil
	createLimit        *CreateLimit                 // nil: no limit; see WithCreateLimit
	recreateSessions   bool                         // see WithRecreateSessions
	network            Network                      // see WithNetwork
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
// each use and is drained on Close. A call that finds no usable sandbox in the
// pool creates its own, while the pool refills beside it, not after it; it
// never waits for the refill. A pooled sandbox that failed to start is
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
// Idle pooled sandboxes are checked every eighth of the sandbox timeout
// without extending their lifetime: a probe of the interpreter, never a
// SetTimeout, so an unused pool still ends at its timeout if the process
// dies. One whose interpreter does not answer (it is gone, say), or that has
// at most a quarter of the timeout left, is killed and replaced before it
// expires. The pool then holds at most n sandboxes plus the replacements
// being prepared.
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
// error (marked Permanent, unwrapping to the *ExecutionError of the output
// and matching ErrCodeFailed: never retried, whatever RetryIf says) along with
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

// WithMetadata labels every sandbox with md (copied). A call whose context
// carries a Workflow adds its Metadata, which wins over md on the same key;
// the labels the primitive sets win over both: "tta.template", and
// "tta.workflow" and "tta.run" when the Workflow has an ID and a RunID, and
// the ownership labels of WithOwner.
func WithMetadata(md map[string]string) Option {
	md = maps.Clone(md)
	return func(c *codeConfig) { c.metadata = md }
}

// WithTelemetry makes the primitive report to t (see Telemetry) what a
// call's context does not say where to report: its calls and sessions whose
// context carries no Telemetry (ContextWithTelemetry wins), and its own
// background work, the warm pool's fills and their sandboxes. With metrics,
// it also reports the warm pool's size (tta.pool.size). Without it, the
// primitive reports only calls whose context carries a Telemetry.
// WithTelemetry panics if t is nil.
func WithTelemetry(t *Telemetry) Option {
	if t == nil {
		misuse("WithTelemetry", "telemetry is nil; pass one made by NewTelemetry, or omit the option")
	}
	return func(c *codeConfig) { c.telemetry = t }
}

// WithPackages installs pkgs with pip in every sandbox before any code runs,
// for when a custom template with the packages baked in cannot start (or
// there is none). Each element is a pip requirement ("torch",
// "numpy==2.1.0", "transformers>=4.40"). Installs happen while the sandbox is
// prepared (ahead of demand with WithWarmPool); a Session installs each
// package once, and CodeOutput.Path reports PathRuntimeInstall.
//
// The recommended path combines both, trying the custom template first and
// falling back to the default template plus install:
//
//	custom, _ := tta.NewCodeExecution(tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"}))
//	install, _ := tta.NewCodeExecution(tta.WithPackages("torch", "transformers"))
//	flow := tta.FallbackIf(tta.CodeNotStarted, custom, install)
//
// FallbackIf with CodeNotStarted moves on only when the code did not start in
// the custom template, so code with side effects never runs in both; plain
// Fallback would move on after any error, a run cut off midway included.
//
// A failed install is an *InstallError; one where pip itself failed is not
// retried.
// WithPackages with no packages changes nothing. WithPackages panics if a
// package is empty, starts with '-' (pip would read an option), or contains
// whitespace, quotes or shell metacharacters other than the version operators
// and extras brackets.
func WithPackages(pkgs ...string) Option {
	for _, pkg := range pkgs {
		if err := checkPackage(pkg); err != nil {
			misuse("WithPackages", "%v", err)
		}
	}
	pkgs = slices.Clone(pkgs)
	return func(c *codeConfig) { c.packages = pkgs }
}
