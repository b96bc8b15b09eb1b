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
	res, err := l.sb.RunCommand(ctx, pipInstallCommand(need))
	if err != nil {
		return nil, failed(ctx, false, &InstallError{SandboxID: l.sb.ID(), Template: l.template, Packages: need, Err: err})
	}
	if res.ExitCode != 0 {
		return nil, &InstallError{SandboxID: l.sb.ID(), Template: l.template, Packages: need, ExitCode: res.ExitCode, Stderr: res.Stderr}
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
