package e2b_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/tta-dev/tta/e2b"
)

// fakeE2B is a tiny stand-in for E2B, just enough for the examples: it creates
// and kills one sandbox and runs any code as "print('hello'); 1 + 1" would
// run. Package e2b/e2btest has a complete one.
func fakeE2B(interpreterUp bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sandboxes", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"sandboxID":"sbx-example","templateID":"code-interpreter-v1","clientID":"x","envdVersion":"0.4.0"}`)
	})
	mux.HandleFunc("DELETE /sandboxes/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /execute", func(w http.ResponseWriter, r *http.Request) {
		if !interpreterUp {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `{"sandboxId":"sbx-example","message":"The sandbox is running but port is not open","port":49999,"code":502}`)
			return
		}
		_, _ = io.WriteString(w, `{"type":"number_of_executions","execution_count":1}`+"\n"+
			`{"type":"stdout","text":"hello\n"}`+"\n"+
			`{"type":"result","is_main_result":true,"text":"2"}`+"\n"+
			`{"type":"end_of_execution"}`+"\n")
	})
	return httptest.NewServer(mux)
}

// Create a sandbox, run code in it and kill it.
func Example() {
	srv := fakeE2B(true)
	defer srv.Close()

	// A real program needs only E2B_API_KEY in its environment; the URL
	// options point this example at the stand-in server.
	client, err := e2b.NewClient(
		e2b.WithAPIKey("e2b_0123456789abcdef"),
		e2b.WithAPIURL(srv.URL),
		e2b.WithSandboxURL(srv.URL),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	sbx, err := client.Create(ctx, e2b.CreateOptions{}) // e2b.DefaultTemplate
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _, _ = sbx.Kill(ctx) }() // runs even when ctx is cancelled
	fmt.Println("sandbox:", sbx.ID())

	exec, err := sbx.RunCode(ctx, "print('hello'); 1 + 1", e2b.RunCodeOptions{
		OnStdout: func(m e2b.OutputMessage) { fmt.Print("stdout: ", m.Line) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if exec.Error != nil {
		fmt.Println("the code raised", exec.Error.Name)
		return
	}
	fmt.Println("result:", exec.Text())
	// Output:
	// sandbox: sbx-example
	// stdout: hello
	// result: 2
}

// Tell an interpreter that has not started yet from other failures, without
// matching strings.
func ExampleAPIError() {
	srv := fakeE2B(false)
	defer srv.Close()
	client, err := e2b.NewClient(e2b.WithAPIKey("e2b_0123456789abcdef"), e2b.WithAPIURL(srv.URL), e2b.WithSandboxURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "tta-ml-minimal"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _, _ = sbx.Kill(ctx) }()

	_, err = sbx.RunCode(ctx, "import torch", e2b.RunCodeOptions{})
	var apiErr *e2b.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("port not open:", errors.Is(err, e2b.ErrPortNotOpen))
		fmt.Println("port:", apiErr.Port)
		fmt.Println("worth waiting for:", apiErr.Transient())
	}
	// Output:
	// port not open: true
	// port: 49999
	// worth waiting for: true
}
