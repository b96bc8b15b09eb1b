package e2b_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
)

// exampleServer starts an E2B-compatible server for the examples, whose
// command "long-job" prints three lines and exits, and returns a client for
// it and the function that stops it.
func exampleServer() (func(), *e2b.Client) {
	srv, err := e2bserver.New(e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
		Commands: map[string]e2bserver.CommandReply{"long-job": {Stdout: "1\n2\n3\n"}},
	}))
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	client, err := e2b.NewClient(e2b.WithAPIKey("e2b_0123456789abcdef"), e2b.WithAPIURL(ts.URL), e2b.WithSandboxURL(ts.URL))
	if err != nil {
		panic(err)
	}
	return func() { ts.Close(); _ = srv.Close() }, client
}

// Kill the sandboxes a crashed process of owner "billing-svc" left behind.
// Label sandboxes with e2b.Ownership when you create them; tta's primitives
// do it themselves (tta.WithOwner).
func ExampleClient_Reap() {
	stop, client := exampleServer()
	defer stop()
	ctx := context.Background()

	crashed := e2b.Ownership{Owner: "billing-svc", Process: "2026-12-07T00:00:00Z pid 4242", Purpose: "execute"}
	for range 2 {
		if _, err := client.Create(ctx, e2b.CreateOptions{Metadata: crashed.Metadata(nil)}); err != nil {
			panic(err)
		}
	}
	other, _ := client.Create(ctx, e2b.CreateOptions{Metadata: e2b.Ownership{Owner: "search-svc"}.Metadata(nil)})
	defer other.Kill(ctx)

	report, err := client.Reap(ctx, e2b.ReapOptions{Owner: "billing-svc", SpareProcess: e2b.ProcessLabel()})
	fmt.Println(err, len(report.Orphans), len(report.Killed))
	// Output: <nil> 2 2
}

// Start a command in the background and wait for it; after a broken stream,
// ConnectCommand(ctx, h.PID(), ...) would read on.
func ExampleSandbox_StartCommand() {
	stop, client := exampleServer()
	defer stop()
	ctx := context.Background()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Template: e2b.BaseTemplate})
	if err != nil {
		panic(err)
	}
	defer sbx.Kill(ctx)

	h, err := sbx.StartCommand(ctx, "long-job", e2b.CommandOptions{})
	if err != nil {
		panic(err)
	}
	res, err := h.Wait(ctx)
	fmt.Println(err, res.ExitCode, strings.Fields(res.Stdout))
	// Output: <nil> 0 [1 2 3]
}
