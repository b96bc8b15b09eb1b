package tta_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// Run code in a sandbox. In production, omit WithProvider: NewCodeExecution
// then uses E2B with the key in E2B_API_KEY.
func ExampleNewCodeExecution() {
	p := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p))
	if err != nil {
		panic(err)
	}
	defer exec.Close() // kills every sandbox it still holds

	out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("Hello from default template!")`})
	fmt.Print(out.Stdout)
	fmt.Println(err, out.Success, out.Template, out.Path)
	fmt.Println("killed:", p.Sandbox(out.SandboxID).Killed())
	// Output:
	// Hello from default template!
	// <nil> true code-interpreter-v1 template
	// killed: true
}

// The recommended path for a template that may not start: try the custom
// template; when its interpreter does not start within its init window, fall
// back to the default template plus a runtime pip install. (The window is
// shortened here so that the example runs at once.)
func ExampleWithPackages_fallback() {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "tta-ml-minimal", NeverReady: true})
	p.Script("import torch; print(torch.__version__)", ttatest.Output{Stdout: "2.5.1\n"})

	custom, err := tta.NewCodeExecution(tta.WithProvider(p),
		tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"}), tta.WithInitWindow(time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer custom.Close()
	install, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithPackages("torch", "transformers"))
	if err != nil {
		panic(err)
	}
	defer install.Close()

	flow := tta.FallbackIf(tta.CodeNotStarted, custom, install)
	out, err := flow.Execute(context.Background(), tta.CodeInput{Code: "import torch; print(torch.__version__)"})
	fmt.Print(out.Stdout)
	fmt.Println(err, out.Path, out.Template, out.Installed)
	fmt.Println("sandboxes:", len(p.Sandboxes()), "leaked:", len(p.Leaked()))
	// Output:
	// 2.5.1
	// <nil> runtime-install code-interpreter-v1 [torch transformers]
	// sandboxes: 2 leaked: 0
}

// Custom templates get 120 s for their interpreter to start, the default
// template 60 s; both can be overridden.
func ExampleTemplate_InitWindow() {
	fmt.Println(tta.Template{}.InitWindow())
	fmt.Println(tta.Template{Name: "tta-ml-minimal"}.InitWindow())
	fmt.Println(tta.Template{ID: "3xmp0rmfztawhlpysu4v", Window: 5 * time.Minute}.InitWindow())
	// Output:
	// 1m0s
	// 2m0s
	// 5m0s
}

// A Session keeps one sandbox and interpreter context across calls, like a
// notebook.
func ExampleCodeExecutionPrimitive_NewSession() {
	p := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	s, err := exec.NewSession(context.Background())
	if err != nil {
		panic(err)
	}
	defer s.Close() // kills the session's sandbox

	for _, code := range []string{"x = 21", "x *= 2", "print(x)"} {
		out, err := s.Execute(context.Background(), tta.CodeInput{Code: code})
		fmt.Println(out.SandboxID, out.ExecutionCount, err)
	}
	// Output:
	// sbx-1 1 <nil>
	// sbx-1 2 <nil>
	// sbx-1 3 <nil>
}

// By default the code's own error is a result; WithCodeErrorsAsErrors makes
// it a Go error too, for flows that branch on it. It is never retried.
func ExampleWithCodeErrorsAsErrors() {
	p := ttatest.NewFakeProvider()
	p.Script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
	exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithCodeErrorsAsErrors())
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1/0"})
	fmt.Println(out.Success, out.Error.Name)
	fmt.Println(err, errors.Is(err, tta.ErrCodeFailed))
	fmt.Println("runs:", p.Calls(ttatest.OpRun))
	// Output:
	// false ZeroDivisionError
	// tta: code raised ZeroDivisionError: division by zero true
	// runs: 1
}

// A warm pool keeps ready sandboxes ahead of demand; WaitWarm fills it
// before serving. Each sandbox is used once and killed, in the background;
// Close waits for those kills and drains the pool.
func ExampleWithWarmPool() {
	p := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithWarmPool(2))
	if err != nil {
		panic(err)
	}
	if err := exec.WaitWarm(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println("ready:", len(p.Sandboxes()))
	var used []string
	for range 3 {
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("ok")`})
		fmt.Print(out.Stdout, err, "\n")
		used = append(used, out.SandboxID)
	}
	fmt.Println(exec.Close(), "leaked:", len(p.Leaked()))
	for _, id := range used {
		fmt.Println(p.Sandbox(id).Killed())
	}
	// Output:
	// ready: 2
	// ok
	// <nil>
	// ok
	// <nil>
	// ok
	// <nil>
	// <nil> leaked: 0
	// true
	// true
	// true
}
