package tta

import (
	"context"
	"slices"
	"strings"
)

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
	ictx, step := startStep(ctx, spanInstall)
	if step.recording() {
		step.set(attrPackages.StringSlice(need))
	}
	res, err := l.sb.RunCommand(ictx, pipInstallCommand(need))
	if err != nil {
		err = failed(ctx, false, &InstallError{SandboxID: l.sb.ID(), Template: l.template, Packages: need, Err: err})
		step.endStep(err)
		return nil, err
	}
	if res.ExitCode != 0 {
		err = &InstallError{SandboxID: l.sb.ID(), Template: l.template, Packages: need, ExitCode: res.ExitCode, Stderr: res.Stderr}
		step.endStep(err)
		return nil, err
	}
	step.endStep(nil)
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
