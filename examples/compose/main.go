// Command compose runs a small agent-style workflow built only from tta's
// primitives: a flaky "model" call wrapped in Timeout(Retry(...)), a Fallback to
// a cheaper model, tools fanned out with Parallel, and a Router that picks a
// summariser by the kind of question. It needs no network and no keys.
//
//	go run ./examples/compose
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tta-dev/tta"
)

// question is what flows through the workflow.
type question struct {
	Text  string
	Kind  string   // "math" or "prose", set by classify
	Notes []string // tool outputs, set by the tools step
}

var errOverloaded = errors.New("model overloaded (503)")

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "workflow failed:", err)
		os.Exit(1)
	}
}

// run builds the workflow, answers one question and writes the trace to w.
func run(w io.Writer) error {
	var calls atomic.Int32
	// The primary model fails twice with a transient error, then answers.
	primary := tta.Func[question, string](func(ctx context.Context, q question) (string, error) {
		if calls.Add(1) <= 2 {
			return "", errOverloaded
		}
		return "large-model answer to " + q.Text + " using " + strings.Join(q.Notes, ", "), nil
	})
	cheap := tta.Func[question, string](func(ctx context.Context, q question) (string, error) {
		return "small-model answer to " + q.Text, nil
	})

	model := tta.Fallback(
		tta.Timeout(tta.Retry(primary,
			tta.MaxAttempts(4), tta.InitialInterval(10*time.Millisecond), tta.Jitter(0),
			tta.OnRetry(func(e tta.RetryEvent) {
				fmt.Fprintf(w, "  retry: attempt %d failed (%v), next in %v\n", e.Attempt, e.Err, e.Delay)
			}),
		), 2*time.Second),
		cheap,
	)

	classify := tta.Func[question, question](func(ctx context.Context, q question) (question, error) {
		q.Kind = "prose"
		if strings.ContainsAny(q.Text, "0123456789") {
			q.Kind = "math"
		}
		return q, nil
	})

	tool := func(name string) tta.Primitive[question, string] {
		return tta.Func[question, string](func(ctx context.Context, q question) (string, error) {
			return name + "(" + q.Kind + ")", nil
		})
	}
	tools := tta.Parallel(tool("search"), tool("calculator"), tool("notes"))
	gather := tta.Func[question, question](func(ctx context.Context, q question) (question, error) {
		notes, err := tools.Execute(ctx, q)
		q.Notes = notes
		return q, err
	})

	answer := tta.Router(func(q question) string { return q.Kind }, map[string]tta.Primitive[question, string]{
		"math":  tta.Then(model, tta.Func[string, string](func(ctx context.Context, s string) (string, error) { return "[math] " + s, nil })),
		"prose": model,
	}, nil)

	flow := tta.Then(tta.Sequence(classify, gather), answer)

	ctx := tta.WithWorkflow(context.Background(), tta.Workflow{ID: "compose-demo", RunID: "run-1"})
	fmt.Fprintln(w, "question: what is 6*7?")
	out, err := flow.Execute(ctx, question{Text: "what is 6*7?"})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "answer:  ", out)
	return nil
}
