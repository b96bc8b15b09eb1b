package tta_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta"
)

// sandboxStart is a primitive with a name: Fallback's errors use it.
type sandboxStart struct {
	template string
	err      error
}

func (s sandboxStart) Execute(ctx context.Context, code string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	return "ran " + code + " on " + s.template, nil
}

func (s sandboxStart) String() string { return s.template }

// Try the custom template first and fall back to the default template with a
// runtime pip install when it cannot start.
func ExampleFallback() {
	errPortNotOpen := errors.New("port is not open")
	run := tta.Fallback[string, string](
		sandboxStart{template: "tta-ml-minimal", err: errPortNotOpen},
		sandboxStart{template: "base + pip install torch"},
	)

	out, err := run.Execute(context.Background(), "import torch")
	fmt.Println(out, err)
	// Output:
	// ran import torch on base + pip install torch <nil>
}

// When every alternative fails, the error lists each failure and matches each
// cause.
func ExampleFallback_allFail() {
	errPortNotOpen := errors.New("port is not open")
	errRateLimited := errors.New("429 too many requests")
	run := tta.Fallback[string, string](
		sandboxStart{template: "tta-ml-minimal", err: errPortNotOpen},
		sandboxStart{template: "base", err: errRateLimited},
	)

	_, err := run.Execute(context.Background(), "import torch")
	fmt.Println(err)
	fmt.Println(errors.Is(err, errPortNotOpen), errors.Is(err, errRateLimited))
	// Output:
	// tta: all 2 alternatives failed: primary (tta-ml-minimal): port is not open; alternative 1 (base): 429 too many requests
	// true true
}

// FallbackIf moves on only from the failures its condition accepts: here, a
// template that did not start is worked around, while a run that broke after
// its code started is returned as it is, so the code never runs twice.
func ExampleFallbackIf() {
	notReady := &tta.TemplateNotReadyError{Template: "tta-ml-minimal", Port: tta.InterpreterPort, Window: 2 * time.Minute}
	cutMidRun := &tta.SandboxError{Op: "run", Template: "tta-ml-minimal", Started: true, Err: errors.New("stream cut")}
	for _, failure := range []error{notReady, cutMidRun} {
		custom := tta.Func[tta.CodeInput, tta.CodeOutput](func(context.Context, tta.CodeInput) (tta.CodeOutput, error) {
			return tta.CodeOutput{}, failure
		})
		install := tta.Func[tta.CodeInput, tta.CodeOutput](func(context.Context, tta.CodeInput) (tta.CodeOutput, error) {
			return tta.CodeOutput{Stdout: "ran in the default template\n", Path: tta.PathRuntimeInstall}, nil
		})
		out, err := tta.FallbackIf(tta.CodeNotStarted, custom, install).Execute(context.Background(), tta.CodeInput{Code: "send_report()"})
		fmt.Printf("%q %v\n", out.Stdout, err)
	}
	// Output:
	// "ran in the default template\n" <nil>
	// "" tta: run (template tta-ml-minimal): stream cut
}
