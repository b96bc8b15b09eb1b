package ttatest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tta-dev/tta"
)

// FakeSandbox is a sandbox of a FakeProvider. It implements tta.Sandbox and
// records what was done to it. It expires at the timeout given to Create (as
// extended by SetTimeout); afterwards, and after Kill, its operations fail
// with an error matching tta.ErrSandboxGone, and Kill succeeds. A run whose
// sandbox ends while the code runs fails as interrupted, as on E2B, where
// the stream breaks: not transient, not tta.ErrSandboxGone; the next
// operation reports the sandbox gone.
//
// A FakeSandbox is safe for concurrent use; its recording methods return
// copies.
type FakeSandbox struct {
	p        *FakeProvider
	id       string
	tpl      FakeTemplate
	created  time.Time
	metadata map[string]string

	// Guarded by p.mu.
	deadline  time.Time // zero: no timeout
	killed    bool      // Kill succeeded
	killedAt  time.Time
	expired   bool // Expire was called
	probes    []time.Time
	runs      []Run
	commands  []string
	installed []string
	files     map[string][]byte
	contexts  map[string]string // context ID -> language
	counts    map[string]int    // execution count per context
	timeouts  []time.Duration   // SetTimeout arguments
	paused    bool              // between Pause and Resume
}

var _ tta.Sandbox = (*FakeSandbox)(nil)

// ID returns the sandbox's ID: "sbx-1", "sbx-2", ... in creation order.
func (s *FakeSandbox) ID() string { return s.id }

// InterpreterPort returns tta.InterpreterPort, E2B's, which the fake's
// interpreter errors name too.
func (s *FakeSandbox) InterpreterPort() int { return tta.InterpreterPort }

// Template returns the template the sandbox was created from.
func (s *FakeSandbox) Template() FakeTemplate { return s.tpl }

// CreatedAt returns when Create returned the sandbox.
func (s *FakeSandbox) CreatedAt() time.Time { return s.created }

// Metadata returns the metadata given to Create.
func (s *FakeSandbox) Metadata() map[string]string { return maps.Clone(s.metadata) }

// Killed reports whether Kill succeeded on the sandbox.
func (s *FakeSandbox) Killed() bool {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.killed
}

// KilledAt returns when Kill succeeded, or the zero time.
func (s *FakeSandbox) KilledAt() time.Time {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.killedAt
}

// Expire makes the sandbox expire now, as if its timeout had passed.
func (s *FakeSandbox) Expire() {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.expired = true
}

// Probes returns when each Probe call was made.
func (s *FakeSandbox) Probes() []time.Time {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return slices.Clone(s.probes)
}

// Runs returns every RunCode call that reached the interpreter, in order.
func (s *FakeSandbox) Runs() []Run {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return slices.Clone(s.runs)
}

// Commands returns every command run, in order.
func (s *FakeSandbox) Commands() []string {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return slices.Clone(s.commands)
}

// Installed returns the packages the sandbox has: the template's, then those
// pip installed, in order.
func (s *FakeSandbox) Installed() []string {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return slices.Clone(s.installed)
}

// File returns the content written to path and whether it was written.
func (s *FakeSandbox) File(path string) ([]byte, bool) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	data, ok := s.files[path]
	return slices.Clone(data), ok
}

// Deadline returns when the sandbox expires unless SetTimeout extends it:
// the timeout given to Create, as last extended; zero when it has none.
func (s *FakeSandbox) Deadline() time.Time {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.deadline
}

// Timeouts returns the arguments of every successful SetTimeout call.
func (s *FakeSandbox) Timeouts() []time.Duration {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return slices.Clone(s.timeouts)
}

// goneLocked returns the error for a sandbox that no longer exists, or nil.
func (s *FakeSandbox) goneLocked(now time.Time) error {
	if s.killed || s.expired || (!s.paused && !s.deadline.IsZero() && !now.Before(s.deadline)) {
		return &goneError{id: s.id}
	}
	return nil
}

// interpreterLocked returns the error of a call to the interpreter now, or nil.
func (s *FakeSandbox) interpreterLocked(op Op, now time.Time) error {
	if err := s.p.faultLocked(op, &s.tpl, ""); err != nil {
		return err
	}
	if err := s.goneLocked(now); err != nil {
		return err
	}
	if s.paused {
		return terminal("ttatest: sandbox %s is paused: Resume it first", s.id)
	}
	if s.tpl.NeverReady || now.Before(s.created.Add(s.tpl.ReadyAfter)) {
		return portNotOpen(s.id)
	}
	return nil
}

func (s *FakeSandbox) languageLocked(lang string) error {
	if s.tpl.Languages != nil && !slices.Contains(s.tpl.Languages, lang) {
		return &terminalError{err: fmt.Errorf("%w: template %s has no %q interpreter", ErrUnsupportedLanguage, s.tpl.name(), lang)}
	}
	return nil
}

// Probe reports whether the interpreter's port is open.
func (s *FakeSandbox) Probe(ctx context.Context) error {
	now := time.Now()
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.probes = append(s.probes, now)
	if err := s.interpreterLocked(OpProbe, now); err != nil {
		return err
	}
	return ctx.Err()
}

// RunCode runs code against the provider's script (see FakeProvider.Script
// and Handle). Output callbacks are called from the calling goroutine.
func (s *FakeSandbox) RunCode(ctx context.Context, req tta.RunRequest) (tta.Execution, error) {
	now := time.Now()
	s.p.mu.Lock()
	err := s.interpreterLocked(OpRun, now)
	if err == nil {
		err = s.languageLocked(req.Language)
	}
	if err == nil && req.ContextID != "" {
		if _, ok := s.contexts[req.ContextID]; !ok {
			err = terminal("ttatest: sandbox %s has no context %q", s.id, req.ContextID)
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		s.p.mu.Unlock()
		return tta.Execution{}, err
	}
	key := req.ContextID
	if key == "" {
		key = "default:" + req.Language
	}
	s.counts[key]++
	r := Run{
		SandboxID:      s.id,
		Code:           req.Code,
		Language:       req.Language,
		ContextID:      req.ContextID,
		EnvVars:        maps.Clone(req.EnvVars),
		Timeout:        req.Timeout,
		At:             now,
		ExecutionCount: s.counts[key],
	}
	s.runs = append(s.runs, r)
	s.p.mu.Unlock()

	out, err := s.p.output(ctx, r)
	if err != nil {
		return tta.Execution{}, err
	}
	if err := sleep(ctx, out.Delay); err != nil {
		return tta.Execution{}, interrupted("run", err)
	}
	s.p.mu.Lock()
	gone := s.goneLocked(time.Now())
	s.p.mu.Unlock()
	if gone != nil {
		// As on E2B: the stream breaks; that the sandbox is gone shows on
		// the next request.
		return tta.Execution{}, terminal("ttatest: run interrupted: sandbox %s ended while the code ran", s.id)
	}
	if out.Stdout != "" && req.OnStdout != nil {
		req.OnStdout(out.Stdout)
	}
	if out.Stderr != "" && req.OnStderr != nil {
		req.OnStderr(out.Stderr)
	}
	return tta.Execution{
		Stdout:         out.Stdout,
		Stderr:         out.Stderr,
		Results:        slices.Clone(out.Results),
		Error:          out.Error,
		ExecutionCount: r.ExecutionCount,
	}, nil
}

// CreateContext creates an interpreter context: "ctx-1", "ctx-2", ...
func (s *FakeSandbox) CreateContext(ctx context.Context, language string) (string, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.interpreterLocked(OpContext, time.Now()); err != nil {
		return "", err
	}
	if err := s.languageLocked(language); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	id := fmt.Sprintf("ctx-%d", len(s.contexts)+1)
	s.contexts[id] = language
	return id, nil
}

// RunCommand records cmd. A pip install command (pip install [flags] pkgs...,
// packages optionally single-quoted) takes the template's InstallDelay and
// installs its packages, unless one was rejected (FakeProvider.RejectPackage):
// then it exits 1. Other commands exit 0 with no output.
func (s *FakeSandbox) RunCommand(ctx context.Context, cmd string) (tta.CommandResult, error) {
	s.p.mu.Lock()
	err := s.p.faultLocked(OpCommand, &s.tpl, "")
	if err == nil {
		err = s.goneLocked(time.Now())
	}
	if err == nil {
		s.commands = append(s.commands, cmd)
	}
	s.p.mu.Unlock()
	if err != nil {
		return tta.CommandResult{}, err
	}
	pkgs, ok := pipPackages(cmd)
	if !ok {
		return tta.CommandResult{}, ctx.Err()
	}
	if err := sleep(ctx, s.tpl.InstallDelay); err != nil {
		return tta.CommandResult{}, interrupted("command", err)
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for _, pkg := range pkgs {
		if s.p.rejected[pkg] {
			return tta.CommandResult{ExitCode: 1, Stderr: "ERROR: No matching distribution found for " + pkg + "\n"}, nil
		}
	}
	var b strings.Builder
	for _, pkg := range pkgs {
		if !slices.Contains(s.installed, pkg) {
			s.installed = append(s.installed, pkg)
		}
		b.WriteString("Successfully installed " + pkg + "\n")
	}
	return tta.CommandResult{Stdout: b.String()}, nil
}

// pipPackages parses "pip install [flags] pkgs...", with packages optionally
// single-quoted, and reports whether cmd is such a command.
func pipPackages(cmd string) ([]string, bool) {
	fields := strings.Fields(cmd)
	if len(fields) < 2 || (fields[0] != "pip" && fields[0] != "pip3") || fields[1] != "install" {
		return nil, false
	}
	var pkgs []string
	for _, f := range fields[2:] {
		if strings.HasPrefix(f, "-") {
			continue
		}
		pkgs = append(pkgs, strings.Trim(f, "'"))
	}
	return pkgs, true
}

// WriteFile records data at path.
func (s *FakeSandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.faultLocked(OpFiles, &s.tpl, ""); err != nil {
		return err
	}
	if err := s.goneLocked(time.Now()); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.files[path] = slices.Clone(data)
	return nil
}

// SetTimeout makes the sandbox expire d from now.
func (s *FakeSandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	now := time.Now()
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.faultLocked(OpSetTimeout, &s.tpl, ""); err != nil {
		return err
	}
	if err := s.goneLocked(now); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.deadline = now.Add(d)
	s.timeouts = append(s.timeouts, d)
	return nil
}

// Kill kills the sandbox. Killing a sandbox that is gone (killed, expired)
// succeeds and counts as killed.
func (s *FakeSandbox) Kill(ctx context.Context) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.faultLocked(OpKill, &s.tpl, ""); err != nil {
		return err
	}
	if s.killed {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.killed = true
	s.killedAt = time.Now()
	return nil
}
