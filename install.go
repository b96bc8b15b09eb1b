package tta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// WithPackages installs pkgs with pip in every sandbox before any code runs:
// the field report's "Option C", for when a custom template with the packages
// baked in cannot start. Each element is a pip requirement ("torch",
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
// A failed install (pip exits non-zero) is an *InstallError, not retried.
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

// InstallError is returned when pip failed to install packages in a sandbox.
// It reports Transient() false: a package that does not exist or does not
// build will not install on the next attempt either.
//
// An InstallError is not modified after it is returned and is safe to read
// from multiple goroutines.
type InstallError struct {
	// SandboxID is the sandbox the install ran in.
	SandboxID string
	// Packages are the packages the failed command tried to install.
	Packages []string
	// ExitCode is pip's exit status.
	ExitCode int
	// Stderr is pip's error output.
	Stderr string
}

// Error returns "tta: pip install <packages> in sandbox <id> exited with <code>: <stderr>".
func (e *InstallError) Error() string {
	msg := fmt.Sprintf("tta: pip install %s in sandbox %s exited with %d", strings.Join(e.Packages, " "), e.SandboxID, e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// Transient reports false.
func (e *InstallError) Transient() bool { return false }

// install installs those of pkgs that l's sandbox does not have yet and
// returns them.
func (p *CodeExecutionPrimitive) install(ctx context.Context, l *lease, pkgs []string) ([]string, error) {
	var need []string
	for _, pkg := range pkgs {
		if !l.installed[pkg] && !slices.Contains(need, pkg) {
			need = append(need, pkg)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	res, err := l.sb.RunCommand(ctx, pipInstallCommand(need))
	if err != nil {
		serr := &SandboxError{Op: "install", SandboxID: l.sb.ID(), Template: l.template, Err: err}
		if ctx.Err() == nil && !isTransient(err) {
			return nil, Permanent(serr)
		}
		return nil, serr
	}
	if res.ExitCode != 0 {
		return nil, &InstallError{SandboxID: l.sb.ID(), Packages: need, ExitCode: res.ExitCode, Stderr: res.Stderr}
	}
	if l.installed == nil {
		l.installed = make(map[string]bool, len(need))
	}
	for _, pkg := range need {
		l.installed[pkg] = true
	}
	return need, nil
}

// pipInstallCommand returns the shell command that installs pkgs, each
// single-quoted (checkPackage guarantees they contain no quote).
func pipInstallCommand(pkgs []string) string {
	var b strings.Builder
	b.WriteString("pip install --quiet --disable-pip-version-check")
	for _, pkg := range pkgs {
		b.WriteString(" '" + pkg + "'")
	}
	return b.String()
}

// checkPackage reports why pkg is not an acceptable pip requirement.
func checkPackage(pkg string) error {
	switch {
	case pkg == "":
		return errors.New("package name is empty")
	case strings.HasPrefix(pkg, "-"):
		return fmt.Errorf("package %q starts with '-': pass package names, not pip options", pkg)
	}
	for _, r := range pkg {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-=<>!~[],*+", r)
		if !ok {
			return fmt.Errorf("package %q contains %q; use a plain pip requirement such as \"numpy==2.1.0\"", pkg, r)
		}
	}
	return nil
}
