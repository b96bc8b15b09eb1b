package ttatest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tta-dev/tta"
)

// DefaultTemplateID is the ID of the fake's default template, whose name is
// tta.DefaultTemplateName.
const DefaultTemplateID = "fakecodeinterpreter1"

// FakeTemplate describes a template the fake knows and how its sandboxes
// behave. The zero durations mean instant. It is a plain value.
type FakeTemplate struct {
	// ID and Name identify the template; Create accepts either. At least one
	// is required.
	ID string
	// Name is the template's name (alias); "" when it has only an ID.
	Name string
	// CreateDelay is how long Create takes.
	CreateDelay time.Duration
	// ReadyAfter is how long after Create returns the interpreter's port
	// opens; until then Probe, RunCode and CreateContext fail with a transient
	// error matching ErrPortNotOpen.
	ReadyAfter time.Duration
	// NeverReady keeps the port closed forever: the failure of a heavy custom
	// template.
	NeverReady bool
	// Packages are installed in the template already.
	Packages []string
	// InstallDelay is how long each pip install command takes.
	InstallDelay time.Duration
	// Languages, when not nil, lists the languages the interpreter runs;
	// others fail with ErrUnsupportedLanguage. nil means every language.
	Languages []string
	// PauseLosesMemory makes a pause drop the interpreter contexts, as a
	// sandbox paused without its memory would: after Resume,
	// ContextExists reports false for them.
	PauseLosesMemory bool
}

func (t *FakeTemplate) matches(ref string) bool {
	return ref != "" && (ref == t.ID || ref == t.Name)
}

func (t *FakeTemplate) name() string {
	if t.Name != "" {
		return t.Name
	}
	return t.ID
}

// Output is what a scripted run prints and returns. It is a plain value.
type Output struct {
	// Stdout and Stderr are the run's output, passed to the output callbacks
	// once the run's Delay has passed.
	Stdout string
	// Stderr is the run's standard error; "" prints nothing.
	Stderr string
	// Results are the values displayed.
	Results []tta.Result
	// Error is the error the code raises, or nil.
	Error *tta.ExecutionError
	// Delay is how long the code runs. A context done before then interrupts
	// the run with a terminal error (the code had started).
	Delay time.Duration
}

// Raise returns an Output whose code raises name with value, with a
// traceback like Python's.
func Raise(name, value string) Output {
	return Output{Error: &tta.ExecutionError{
		Name:      name,
		Value:     value,
		Traceback: fmt.Sprintf("Traceback (most recent call last):\n  Cell In[1], line 1\n%s: %s", name, value),
	}}
}

// Run records one RunCode call. It is a plain value.
type Run struct {
	// SandboxID is the sandbox the code ran in.
	SandboxID string
	// Code is the code as sent.
	Code string
	// Language is the requested language as sent; "" when none was named.
	Language string
	// ContextID is the context the code ran in; "" for the language's
	// default context.
	ContextID string
	// EnvVars is a copy of the run's environment variables; nil when none.
	EnvVars map[string]string
	// Timeout is the run's execution timeout as sent.
	Timeout time.Duration
	// At is when the run started.
	At time.Time
	// ExecutionCount is the context's execution counter after the run.
	ExecutionCount int
}

// Op names an operation of the fake, for faults and call counts. The names
// are those of package e2bserver's fault injection, for the operations the
// fake has.
type Op string

// Operations.
const (
	// OpCreate is FakeProvider's Create.
	OpCreate Op = "create"
	// OpKill is a sandbox's Kill.
	OpKill Op = "kill"
	// OpSetTimeout is a sandbox's SetTimeout.
	OpSetTimeout Op = "set-timeout"
	// OpProbe is a sandbox's Probe of the interpreter's readiness.
	OpProbe Op = "probe"
	// OpRun is a sandbox's RunCode: code execution.
	OpRun Op = "run"
	// OpContext is a sandbox's CreateContext, which makes an interpreter
	// context.
	OpContext Op = "context"
	// OpFiles is a sandbox's WriteFile.
	OpFiles Op = "files"
	// OpCommand is a sandbox's RunCommand, package installs included: the
	// fake installs packages with pip commands, as E2B's sandboxes do.
	OpCommand Op = "command"
	// OpPause is a sandbox's Pause.
	OpPause Op = "pause"
	// OpResume is a sandbox's Resume.
	OpResume Op = "resume"
)

// Fault makes calls of an operation fail. It is a plain value.
type Fault struct {
	// Op is the operation that fails.
	Op Op
	// Template, when set, limits the fault to calls about sandboxes of that
	// template (ID or name); for OpCreate, the template requested.
	Template string
	// Nth is which matching call fails, 1-based: Nth 2 fails the second
	// matching call only. 0 fails every matching call.
	Nth int
	// Err is the error returned. Wrap it with Transient for an error that
	// tta.Retry retries.
	Err error
}

type injected struct {
	Fault
	seen int // matching calls so far
}

// FakeProvider is an in-memory tta.Provider. Create it with NewFakeProvider;
// configure it (templates, scripts, faults) before or while using it.
//
// A FakeProvider is safe for concurrent use.
type FakeProvider struct {
	mu        sync.Mutex // protects everything below and every FakeSandbox's state
	templates []*FakeTemplate
	scripts   map[string]Output
	handler   func(ctx context.Context, r Run) (Output, error)
	rejected  map[string]bool
	faults    []*injected
	calls     map[Op]int
	sandboxes []*FakeSandbox
}

// NewFakeProvider returns a FakeProvider that knows the default template
// (tta.DefaultTemplateName, ID DefaultTemplateID, ready at once) and
// templates. A template with the ID or name of a known one replaces it, so
// the default template can be reconfigured too.
func NewFakeProvider(templates ...FakeTemplate) *FakeProvider {
	p := &FakeProvider{
		scripts:  make(map[string]Output),
		rejected: make(map[string]bool),
		calls:    make(map[Op]int),
	}
	p.AddTemplate(FakeTemplate{ID: DefaultTemplateID, Name: tta.DefaultTemplateName})
	for _, t := range templates {
		p.AddTemplate(t)
	}
	return p
}

// AddTemplate registers t for sandboxes created afterwards, replacing a known
// template with the same ID or name. It panics if t has neither.
func (p *FakeProvider) AddTemplate(t FakeTemplate) {
	if t.ID == "" && t.Name == "" {
		panic("ttatest: AddTemplate: the template needs an ID or a Name")
	}
	t.Packages = slices.Clone(t.Packages)
	t.Languages = slices.Clone(t.Languages)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.templates = slices.DeleteFunc(p.templates, func(o *FakeTemplate) bool {
		return (t.ID != "" && o.matches(t.ID)) || (t.Name != "" && o.matches(t.Name))
	})
	p.templates = append(p.templates, &t)
}

// Script makes every run of exactly code produce out.
func (p *FakeProvider) Script(code string, out Output) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts[code] = out
}

// Handle sets the function that answers runs whose code was not scripted. Its
// error is returned by RunCode as it is. Without it, unscripted code prints
// the literal of each line of the form print("text") or print('text') and
// does nothing else.
func (p *FakeProvider) Handle(f func(ctx context.Context, r Run) (Output, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handler = f
}

// RejectPackage makes pip install fail for pkg: the command exits 1 with
// "ERROR: No matching distribution found for <pkg>".
func (p *FakeProvider) RejectPackage(pkg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rejected[pkg] = true
}

// Fail injects f. It affects calls made after Fail returns.
func (p *FakeProvider) Fail(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &injected{Fault: f})
}

// ClearFaults removes every injected fault.
func (p *FakeProvider) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Calls returns how many calls of op the fake has received, failed ones
// included.
func (p *FakeProvider) Calls(op Op) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

// Sandboxes returns every sandbox created, in creation order.
func (p *FakeProvider) Sandboxes() []*FakeSandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sandboxes)
}

// Sandbox returns the sandbox with the given ID, or nil.
func (p *FakeProvider) Sandbox(id string) *FakeSandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sb := range p.sandboxes {
		if sb.id == id {
			return sb
		}
	}
	return nil
}

// Leaked returns the sandboxes created and never killed, in creation order.
// A sandbox that expired without a Kill counts as leaked: on E2B it would have
// cost money until then.
func (p *FakeProvider) Leaked() []*FakeSandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	var leaked []*FakeSandbox
	for _, sb := range p.sandboxes {
		if !sb.killed {
			leaked = append(leaked, sb)
		}
	}
	return leaked
}

// AssertNoLeaks reports a test error listing every sandbox that was created
// and never killed, and returns whether there was none.
func (p *FakeProvider) AssertNoLeaks(t testing.TB) bool {
	t.Helper()
	leaked := p.Leaked()
	if len(leaked) == 0 {
		return true
	}
	descs := make([]string, len(leaked))
	for i, sb := range leaked {
		descs[i] = sb.id + " (template " + sb.tpl.name() + ")"
	}
	t.Errorf("ttatest: %d of %d sandboxes leaked (created, never killed): %s",
		len(leaked), len(p.Sandboxes()), strings.Join(descs, ", "))
	return false
}

// fault counts a call of op about template and returns the error of the first
// fault it triggers, or nil. It must be called with p.mu held.
func (p *FakeProvider) faultLocked(op Op, tpl *FakeTemplate, ref string) error {
	p.calls[op]++
	for _, f := range p.faults {
		if f.Op != op {
			continue
		}
		if f.Template != "" {
			if tpl != nil && !tpl.matches(f.Template) {
				continue
			}
			if tpl == nil && f.Template != ref {
				continue
			}
		}
		f.seen++
		if f.Nth == 0 || f.Nth == f.seen {
			return f.Err
		}
	}
	return nil
}

// Create creates a sandbox of req.Template (by ID, else by name), after the
// template's CreateDelay. An unknown template is ErrTemplateNotFound.
func (p *FakeProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	ref := req.Template.Ref()
	p.mu.Lock()
	var tpl *FakeTemplate
	for _, t := range p.templates {
		if t.matches(ref) {
			tpl = t
			break
		}
	}
	err := p.faultLocked(OpCreate, tpl, ref)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if tpl == nil {
		return nil, &terminalError{err: fmt.Errorf("%w: %q", ErrTemplateNotFound, ref)}
	}
	if err := sleep(ctx, tpl.CreateDelay); err != nil {
		return nil, fmt.Errorf("ttatest: create: %w", err)
	}

	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	sb := &FakeSandbox{
		p:        p,
		id:       fmt.Sprintf("sbx-%d", len(p.sandboxes)+1),
		tpl:      *tpl,
		created:  now,
		metadata: maps.Clone(req.Metadata),
		files:    make(map[string][]byte),
		contexts: make(map[string]string),
		counts:   make(map[string]int),
	}
	if req.Timeout > 0 {
		sb.deadline = now.Add(req.Timeout)
	}
	sb.installed = slices.Clone(tpl.Packages)
	p.sandboxes = append(p.sandboxes, sb)
	return sb, nil
}

// output picks what a run produces: the script for its code, the handler, or
// the default print interpretation.
func (p *FakeProvider) output(ctx context.Context, r Run) (Output, error) {
	p.mu.Lock()
	out, scripted := p.scripts[r.Code]
	h := p.handler
	p.mu.Unlock()
	switch {
	case scripted:
		return out, nil
	case h != nil:
		return h(ctx, r)
	}
	return printOutput(r.Code), nil
}

// printOutput interprets each line print("text") or print('text') as printing
// text; other lines do nothing.
func printOutput(code string) Output {
	var b strings.Builder
	for line := range strings.SplitSeq(code, "\n") {
		line = strings.TrimSpace(line)
		inner, ok := strings.CutPrefix(line, "print(")
		if !ok {
			continue
		}
		inner, ok = strings.CutSuffix(inner, ")")
		if !ok || len(inner) < 2 {
			continue
		}
		q := inner[0]
		if (q != '"' && q != '\'') || inner[len(inner)-1] != q {
			continue
		}
		b.WriteString(inner[1:len(inner)-1] + "\n")
	}
	return Output{Stdout: b.String()}
}

// sleep waits d or until ctx is done, and returns ctx's error in that case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
