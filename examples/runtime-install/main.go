// Command runtime-install runs the recommended path for a template that may
// not start: try the custom template that has the packages baked in, and
// when it cannot start, fall back to the default template plus a runtime pip
// install of the packages, composed as
//
//	tta.FallbackIf(tta.CodeNotStarted, custom, defaultPlusInstall)
//
// (moving on only when the code did not start in the custom template), where
// defaultPlusInstall is a CodeExecutionPrimitive on the default
// template with tta.WithPackages. It prints which path ran (CodeOutput.Path,
// CodeOutput.Template, CodeOutput.Installed) and why the custom template was
// not used.
//
// Offline (E2B_API_KEY unset) the sandboxes run on an E2B-compatible server
// embedded in the program (python3 and pip must be on PATH), where:
//
//   - the custom template "tta-ml-minimal" never opens its interpreter port:
//     its setup fails as a torch install without network would. Its init
//     window is shortened to 2 s so that the example does not wait the 120 s
//     a custom template gets by default;
//   - there is no PyPI, so the package is ttademo, a pure-Python wheel the
//     example builds, and the local default template is set up with a
//     package directory holding it and a pip configuration that installs
//     from that directory only (no index) into the sandbox's home. tta does
//     exactly what it does on E2B: `pip install ttademo` in the sandbox
//     before the code runs.
//
// With E2B_API_KEY set it runs on E2B: -template names the custom template
// (one that does not exist, or does not start, takes the fallback) and
// -package a package from PyPI:
//
//	go run ./examples/runtime-install
//	E2B_API_KEY=e2b_... go run ./examples/runtime-install -template tta-ml-minimal -package tabulate
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/local"
)

func main() {
	template := flag.String("template", "tta-ml-minimal", "the custom template `name`")
	pkg := flag.String("package", "", "the package to install at run time (default ttademo offline, tabulate on E2B)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *template, *pkg); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-install:", err)
		os.Exit(1)
	}
}

// run tries code importing pkg on template, falls back to the default
// template plus pip install pkg, and writes which path ran to w.
func run(ctx context.Context, w io.Writer, template, pkg string) error {
	setup, err := localIndexSetup()
	if err != nil {
		return err
	}
	backend, err := local.Open(local.WithTemplates(
		local.Template{Name: template, Setup: []string{"echo 'ERROR: No matching distribution found for torch' >&2; exit 1"}},
		local.Template{Name: tta.DefaultTemplateName, Setup: setup},
	))
	if err != nil {
		return err
	}
	defer backend.Close()
	fmt.Fprintf(w, "backend: %v\n", backend)
	if pkg == "" {
		pkg = "tabulate"
		if backend.Local() != nil {
			pkg = demoPackage
		}
	}

	customOpts := []tta.Option{tta.WithE2BClient(backend.Client()), tta.WithTemplate(tta.Template{Name: template})}
	if backend.Local() != nil {
		customOpts = append(customOpts, tta.WithInitWindow(2*time.Second))
	}
	custom, err := tta.NewCodeExecution(customOpts...)
	if err != nil {
		return err
	}
	defer custom.Close()
	install, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()), tta.WithPackages(pkg))
	if err != nil {
		return err
	}
	defer install.Close()

	// The flow reports only when every path failed; record why the custom
	// template was skipped on the way.
	var mu sync.Mutex
	var skipped error
	tryCustom := tta.Func[tta.CodeInput, tta.CodeOutput](func(ctx context.Context, in tta.CodeInput) (tta.CodeOutput, error) {
		out, err := custom.Execute(ctx, in)
		mu.Lock()
		skipped = err
		mu.Unlock()
		return out, err
	})
	// FallbackIf with CodeNotStarted: the code runs in the default template
	// only when it did not start in the custom one.
	flow := tta.FallbackIf(tta.CodeNotStarted, tryCustom, install)

	code := fmt.Sprintf("import importlib.metadata as md\nimport %s\nprint(%q, md.version(%q))", pkg, pkg, pkg)
	out, err := flow.Execute(ctx, tta.CodeInput{Code: code})
	if err != nil {
		return err
	}
	if out.Error != nil {
		return out.Error
	}
	if skipped != nil {
		fmt.Fprintf(w, "custom template skipped: %v\n", skipped)
		fmt.Fprintf(w, "  errors.Is(err, tta.ErrTemplateNotReady): %v\n", errors.Is(skipped, tta.ErrTemplateNotReady))
	}
	fmt.Fprintf(w, "path: %s on %s, installed %v\n", out.Path, out.Template, out.Installed)
	fmt.Fprintf(w, "stdout: %s", out.Stdout)
	fmt.Fprintf(w, "startup %.1fs (create, readiness, pip install)\n", out.Startup.Seconds())
	return nil
}
