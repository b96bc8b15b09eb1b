package ttatest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

const analysis = `import pandas as pd; df = pd.read_csv("data.csv"); print(f"rows={len(df)} mean={df.a.mean()}")`

// summarize is the workflow under test: it uploads a CSV, runs an analysis
// on it in a sandbox and returns the first line printed.
func summarize(ctx context.Context, exec tta.Primitive[tta.CodeInput, tta.CodeOutput], csv string) (string, error) {
	out, err := exec.Execute(ctx, tta.CodeInput{
		Code:     analysis,
		Files:    []tta.File{{Path: "data.csv", Data: []byte(csv)}},
		Packages: []string{"pandas"},
	})
	if err != nil {
		return "", err
	}
	if out.Error != nil {
		return "", out.Error
	}
	line, _, _ := strings.Cut(out.Stdout, "\n")
	return line, nil
}

// Test a workflow that runs code, without network or keys: script the code's
// output, run the workflow, then check what reached the sandbox and that it
// was killed.
func ExampleFakeProvider() {
	p := ttatest.NewFakeProvider()
	p.Script(analysis, ttatest.Output{Stdout: "rows=3 mean=2.0\n"})
	exec, err := tta.NewCodeExecution(tta.WithProvider(p))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	line, err := summarize(context.Background(), exec, "a\n1\n2\n3\n")
	fmt.Println(line, err)

	sb := p.Sandboxes()[0]
	data, _ := sb.File("data.csv")
	fmt.Printf("uploaded %d bytes, installed %v\n", len(data), sb.Installed())
	fmt.Printf("killed: %v, leaked: %d\n", sb.Killed(), len(p.Leaked()))
	// Output:
	// rows=3 mean=2.0 <nil>
	// uploaded 8 bytes, installed [pandas]
	// killed: true, leaked: 0
}

// A template whose interpreter never opens its port, as a heavy custom ML
// template may do. (In tests, run this in fake time with testing/synctest
// and keep the real 120 s window; here the window is shortened.)
func ExampleFakeTemplate_neverReady() {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{ID: "3xmp0rmfztawhlpysu4v", Name: "tta-ml-minimal", NeverReady: true})
	exec, err := tta.NewCodeExecution(
		tta.WithProvider(p),
		tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"}),
		tta.WithInitWindow(time.Millisecond),
	)
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	_, err = exec.Execute(context.Background(), tta.CodeInput{Code: "import torch"})
	var nr *tta.TemplateNotReadyError
	fmt.Println(errors.As(err, &nr), nr.Template, nr.Port, errors.Is(err, ttatest.ErrPortNotOpen))
	fmt.Println("killed:", p.Sandboxes()[0].Killed())
	// Output:
	// true tta-ml-minimal 49999 true
	// killed: true
}

// Faults fail chosen calls: here the first run's connection is refused
// before the code starts, and Retry runs it again in a fresh sandbox.
func ExampleFault() {
	p := ttatest.NewFakeProvider()
	p.Fail(ttatest.Fault{Op: ttatest.OpRun, Nth: 1, Err: ttatest.Transient(ttatest.ErrConnectionRefused)})
	exec, err := tta.NewCodeExecution(tta.WithProvider(p))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	flow := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.InitialInterval(time.Millisecond))
	out, err := flow.Execute(context.Background(), tta.CodeInput{Code: `print("hi")`})
	fmt.Print(out.Stdout)
	fmt.Println(err, len(p.Sandboxes()), len(p.Leaked()))
	// Output:
	// hi
	// <nil> 2 0
}
