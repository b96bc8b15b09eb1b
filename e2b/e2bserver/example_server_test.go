package e2bserver_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
)

// A server with a scripted runtime and a custom template whose interpreter
// starts late, reached by package e2b's client over the in-memory network.
func Example() {
	srv, err := e2bserver.New(
		e2bserver.WithAPIKey("e2b_0123456789abcdef"),
		e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
			Replies: map[string]e2bserver.Reply{"print(6*7)": {Stdout: "42\n"}},
		}),
		e2bserver.WithTemplates(e2bserver.Template{
			ID: "mlmin0000000000000000", Alias: "tta-ml-minimal",
			Faults: e2bserver.SandboxFaults{NeverReady: true},
		}),
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
	exec, err := sbx.RunCode(ctx, "print(6*7)", e2b.RunCodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Print(exec.Logs.Stdout[0])

	heavy, err := client.Create(ctx, e2b.CreateOptions{Template: "tta-ml-minimal", Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	err = heavy.InterpreterHealth(ctx)
	fmt.Println(errors.Is(err, e2b.ErrPortNotOpen))

	_, _ = sbx.Kill(ctx)
	_, _ = heavy.Kill(ctx)
	fmt.Println(len(srv.Sandboxes()), "sandboxes left")
	// Output:
	// 42
	// true
	// 0 sandboxes left
}
