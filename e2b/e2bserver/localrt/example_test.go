package localrt_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2bserver/localrt"
)

// An E2B-compatible server running code in local processes, reached by
// package e2b's client: state persists across executions, and a template
// whose setup fails (here a package install that finds nothing) leaves its
// interpreter port closed for good, as E2B does with a template whose
// interpreter cannot start.
func Example() {
	heavy := localrt.TemplateConfig{
		Name:  "tta-ml-minimal",
		Setup: []string{"echo 'ERROR: No matching distribution found for torch' >&2; exit 1"},
	}
	rt, err := localrt.New(localrt.WithTemplates(heavy))
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	srv, err := e2bserver.New(
		e2bserver.WithRuntime(rt),
		e2bserver.WithTemplates(heavy.Template()),
	)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	client, err := e2b.NewClient(
		e2b.WithAPIKey("e2b_0123456789abcdef"),
		e2b.WithAPIURL("http://e2b.local"),
		e2b.WithSandboxURL("http://e2b.local"),
		e2b.WithHTTPClient(srv.InMemoryClient()),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	defer sbx.Kill(ctx)
	if _, err := sbx.RunCode(ctx, "x = 6", e2b.RunCodeOptions{}); err != nil {
		panic(err)
	}
	exec, err := sbx.RunCode(ctx, "print('hello'); x * 7", e2b.RunCodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Print(exec.Logs.Stdout[0])
	fmt.Println(exec.Text())

	broken, err := client.Create(ctx, e2b.CreateOptions{Template: "tta-ml-minimal", Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	defer broken.Kill(ctx)
	err = broken.InterpreterHealth(ctx)
	fmt.Println(errors.Is(err, e2b.ErrPortNotOpen))
	// Output:
	// hello
	// 42
	// true
}
