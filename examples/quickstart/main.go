// Command quickstart runs Python code in sandboxes with tta's
// CodeExecutionPrimitive: a greeting, then a computation
// whose last expression is the call's result. Each Execute runs in a fresh
// sandbox, killed before Execute returns.
//
// With E2B_API_KEY set it runs on E2B's default code-interpreter template;
// without it, on an E2B-compatible server embedded in the program, whose
// sandboxes are local processes (python3 must be on PATH).
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/local"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run executes both snippets and writes what they printed and returned to w.
func run(ctx context.Context, w io.Writer) error {
	backend, err := local.Open()
	if err != nil {
		return err
	}
	defer backend.Close()
	fmt.Fprintf(w, "backend: %v\n", backend)

	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()))
	if err != nil {
		return err
	}
	defer exec.Close()

	out, err := exec.Execute(ctx, tta.CodeInput{Code: `print("Hello from default template!")`})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stdout: %s", out.Stdout)
	fmt.Fprintf(w, "template %s, sandbox %s: ready in %v, ran in %v\n", out.Template, out.SandboxID,
		out.Startup.Round(time.Millisecond), out.Duration.Round(time.Millisecond))

	out, err = exec.Execute(ctx, tta.CodeInput{Code: strings.Join([]string{
		"primes = [n for n in range(2, 50) if all(n % d for d in range(2, n))]",
		`print(f"{len(primes)} primes below 50")`,
		"sum(p * p for p in primes)",
	}, "\n")})
	if err != nil {
		return err
	}
	if out.Error != nil { // the code's own error is a result, not a Go error
		return out.Error
	}
	fmt.Fprintf(w, "stdout: %s", out.Stdout)
	for _, r := range out.Results {
		fmt.Fprintf(w, "result: %s\n", r.Text)
	}
	fmt.Fprintf(w, "success: %v, execution count %d\n", out.Success, out.ExecutionCount)
	return nil
}
