package local_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/local"
)

// Start a sandbox server on this machine and run a command in one of its
// sandboxes through package e2b, as on E2B.
func ExampleStart() {
	root, err := os.MkdirTemp("", "tta-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	srv, err := local.Start(local.WithRoot(root)) // 127.0.0.1, a free port, a generated key
	if err != nil {
		log.Fatal(err)
	}
	client, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseIdleConnections()

	ctx := context.Background()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Template: e2b.BaseTemplate}) // envd only
	if err != nil {
		log.Fatal(err)
	}
	res, err := sbx.RunCommand(ctx, "echo hello from a sandbox", e2b.CommandOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)

	killed, err := srv.Close() // kills the sandbox
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("killed", killed)
	// Output:
	// hello from a sandbox
	// killed 1
}

// Open uses E2B when E2B_API_KEY is set and a local server otherwise; the
// rest of the program does not need to know which.
func ExampleOpen() {
	b, err := local.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // on the local server, kills every sandbox

	fmt.Println("sandboxes run on", b)
	sbx, err := b.Client().Create(context.Background(), e2b.CreateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer sbx.Kill(context.Background())
	exec, err := sbx.RunCode(context.Background(), "6 * 7", e2b.RunCodeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(exec.Text())
}
