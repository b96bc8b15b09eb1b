// Command custom-template runs code on a custom template whose code
// interpreter starts late, as heavy ML templates do: E2B creates the
// sandbox at once and then answers 502 "The sandbox is running but port is
// not open" until the interpreter listens on port 49999.
//
// First with the custom template's default init window (120 s): the
// primitive probes the interpreter with exponential backoff (0.5 s doubling,
// at most 5 s) and runs the code once it answers, reporting how long that
// took. Then with an init window shorter than the template's start: the call
// fails with a terminal ErrTemplateNotReady that names the template, the
// port, the time waited and the probes made, and the sandbox is killed.
//
// Without E2B_API_KEY the template is "tta-slow-start" on an E2B-compatible
// server embedded in the program: a local template whose setup command runs
// `sleep 2` before the interpreter starts (python3 must be on PATH). With
// E2B_API_KEY, pass one of your own custom templates:
//
//	go run ./examples/custom-template
//	E2B_API_KEY=e2b_... go run ./examples/custom-template -template my-template -short 1s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/local"
)

// slowStart is the local template: its interpreter opens 2 s after the
// sandbox is created.
var slowStart = local.Template{Name: "tta-slow-start", Setup: []string{"sleep 2"}}

func main() {
	template := flag.String("template", slowStart.Name, "custom template `name` (on E2B, one of your own)")
	short := flag.Duration("short", time.Second, "an init window shorter than the template's start")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *template, *short); err != nil {
		fmt.Fprintln(os.Stderr, "custom-template:", err)
		os.Exit(1)
	}
}

// run executes code on template twice, with its default init window and with
// window short, and writes what happened to w.
func run(ctx context.Context, w io.Writer, template string, short time.Duration) error {
	backend, err := local.Open(local.WithTemplates(slowStart))
	if err != nil {
		return err
	}
	defer backend.Close()
	fmt.Fprintf(w, "backend: %v\n", backend)
	tpl := tta.Template{Name: template}

	// The custom template's window: 120 s, ample for a 2 s start.
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()), tta.WithTemplate(tpl))
	if err != nil {
		return err
	}
	defer exec.Close()
	fmt.Fprintf(w, "%s: init window %v\n", tpl, exec.Template().Window)
	out, err := exec.Execute(ctx, tta.CodeInput{Code: `print("interpreter up")`})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stdout: %s", out.Stdout)
	fmt.Fprintf(w, "startup: %.1fs (create and readiness probes)\n", out.Startup.Seconds())

	// A window shorter than the start: a terminal error, the sandbox killed.
	impatient, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()), tta.WithTemplate(tpl), tta.WithInitWindow(short))
	if err != nil {
		return err
	}
	defer impatient.Close()
	fmt.Fprintf(w, "%s: init window %v\n", tpl, impatient.Template().Window)
	retries := 0
	flow := tta.Retry[tta.CodeInput, tta.CodeOutput](impatient, tta.OnRetry(func(tta.RetryEvent) { retries++ }))
	_, err = flow.Execute(ctx, tta.CodeInput{Code: `print("interpreter up")`})
	var nr *tta.TemplateNotReadyError
	if !errors.As(err, &nr) {
		return fmt.Errorf("want ErrTemplateNotReady, got %v", err)
	}
	fmt.Fprintf(w, "error: %v\n", err)
	fmt.Fprintf(w, "errors.Is(err, tta.ErrTemplateNotReady): %v; retries: %d\n", errors.Is(err, tta.ErrTemplateNotReady), retries)
	fmt.Fprintf(w, "sandbox %s: %s\n", nr.SandboxID, state(ctx, backend.Client(), nr.SandboxID))
	return nil
}

// state describes the sandbox id as the backend sees it.
func state(ctx context.Context, c *e2b.Client, id string) string {
	info, err := c.Get(ctx, id)
	switch {
	case errors.Is(err, e2b.ErrSandboxNotFound), errors.Is(err, e2b.ErrNotFound):
		return "killed (not found)"
	case err != nil:
		return err.Error()
	}
	return string(info.State)
}
