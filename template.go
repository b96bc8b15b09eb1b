package tta

import (
	"context"
	"errors"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// Template defaults.
const (
	// DefaultTemplateName is the name of E2B's code-interpreter template,
	// "code-interpreter-v1", used when a Template names nothing
	// (e2b.DefaultTemplate).
	DefaultTemplateName = e2b.DefaultTemplate
	// InterpreterPort is the port of E2B's code interpreter inside a
	// sandbox, 49999 (e2b.InterpreterPort). Other providers may use another
	// (see Sandbox.InterpreterPort).
	InterpreterPort = e2b.InterpreterPort
	// DefaultInitWindow is how long the default template's interpreter is
	// waited for after the sandbox is created.
	DefaultInitWindow = 60 * time.Second
	// CustomInitWindow is how long a custom template's interpreter is waited
	// for: custom templates often load heavy libraries (torch, transformers)
	// before their interpreter opens its port.
	CustomInitWindow = 120 * time.Second
)

// The readiness probe schedule: exponential backoff from 0.5 s, doubling, at
// most 5 s between probes, without jitter.
const (
	probeInitialInterval = 500 * time.Millisecond
	probeMaxInterval     = 5 * time.Second
	// probeFinalMargin is how long before the window closes the last probe
	// runs, so an interpreter that opens late in the window is still seen.
	probeFinalMargin = time.Second
)

// Template selects what a sandbox starts from: by ID, by name, or, when both
// are empty, the default template (DefaultTemplateName). The zero Template is
// the default template.
//
// When both ID and Name are set, the sandbox is created by ID (E2B resolves an
// ID faster than a name) and Name is used in messages.
//
// A Template is a plain value, safe to copy and share.
type Template struct {
	// ID is the template's identifier, such as "3xmp0rmfztawhlpysu4v".
	ID string
	// Name is the template's name (alias), such as "tta-ml-minimal".
	Name string
	// Window overrides InitWindow's default when > 0.
	Window time.Duration
}

// Ref returns what a provider is asked to create: ID if set, otherwise Name,
// otherwise DefaultTemplateName.
func (t Template) Ref() string {
	switch {
	case t.ID != "":
		return t.ID
	case t.Name != "":
		return t.Name
	}
	return DefaultTemplateName
}

// IsDefault reports whether t is the default template: no ID, and no name or
// DefaultTemplateName.
func (t Template) IsDefault() bool {
	return t.ID == "" && (t.Name == "" || t.Name == DefaultTemplateName)
}

// InitWindow returns how long a sandbox's code interpreter is waited for after
// Create: Window when > 0, otherwise DefaultInitWindow (60 s) for the default
// template and CustomInitWindow (120 s) for any other.
func (t Template) InitWindow() time.Duration {
	switch {
	case t.Window > 0:
		return t.Window
	case t.IsDefault():
		return DefaultInitWindow
	}
	return CustomInitWindow
}

// String names the template for messages: "tta-ml-minimal
// (3xmp0rmfztawhlpysu4v)" when both are set, otherwise whichever is set, and
// DefaultTemplateName for the zero Template.
func (t Template) String() string {
	if t.ID != "" && t.Name != "" {
		return t.Name + " (" + t.ID + ")"
	}
	return t.Ref()
}

// probeRun is the per-call state of one readiness wait. The readiness
// primitive is built once per CodeExecutionPrimitive; everything that changes
// from one wait to the next lives here.
type probeRun struct {
	sb     Sandbox
	probes int   // probes made so far
	last   error // the last probe's error
}

// newReadiness builds the readiness wait: probe once, retried while the probe
// error is transient with backoff 0.5 s doubling to 5 s, without jitter, for
// at most window. The library waits for sandboxes with its own Timeout and
// Retry.
func newReadiness(window time.Duration) Primitive[*probeRun, struct{}] {
	probe := Func[*probeRun, struct{}](func(ctx context.Context, r *probeRun) (struct{}, error) {
		r.probes++
		r.last = r.sb.Probe(ctx)
		return struct{}{}, r.last
	})
	return Timeout(Retry[*probeRun, struct{}](probe,
		RetryForever(),
		InitialInterval(probeInitialInterval),
		MaxInterval(probeMaxInterval),
		Multiplier(2),
		Jitter(0),
		FinalAttemptBeforeDeadline(probeFinalMargin),
		RetryIf(IsTransient),
	), window)
}

// waitReady waits until sb's interpreter answers. On failure it returns a
// *TemplateNotReadyError when the window closed, and a *SandboxError (made
// permanent when the probe error was terminal) otherwise. It does not kill sb.
func waitReady(ctx context.Context, ready Primitive[*probeRun, struct{}], sb Sandbox, tpl Template, window time.Duration) (probes int, err error) {
	start := time.Now()
	r := &probeRun{sb: sb}
	_, err = ready.Execute(ctx, r)
	if err == nil {
		return r.probes, nil
	}
	if ctx.Err() == nil && errors.Is(err, ErrTimeout) {
		return r.probes, &TemplateNotReadyError{
			Template:  tpl.String(),
			SandboxID: sb.ID(),
			Port:      sb.InterpreterPort(),
			Window:    window,
			Waited:    time.Since(start),
			Probes:    r.probes,
			Last:      r.last,
		}
	}
	return r.probes, failed(ctx, false, &SandboxError{Op: "wait", SandboxID: sb.ID(), Template: tpl.String(), Err: err})
}
