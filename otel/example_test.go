package otel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// A workflow's trace: each step a span, children under the step that called
// them, retries and fallbacks as events. The spans are recorded with the
// OpenTelemetry SDK's in-memory exporter and printed as a tree; in an
// application they would go to the SDK's exporter of choice.
func Example() {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	tel, err := tta.NewTelemetry(tta.WithTracerProvider(tp))
	if err != nil {
		panic(err)
	}

	fake := ttatest.NewFakeProvider() // sandboxes in memory
	fake.Script("6 * 7", ttatest.Output{Results: []tta.Result{{IsMain: true, Text: "42"}}})
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	calls := 0
	model := tta.Named("model", tta.Func[string, tta.CodeInput](func(context.Context, string) (tta.CodeInput, error) {
		if calls++; calls == 1 {
			return tta.CodeInput{}, errors.New("rate limited")
		}
		return tta.CodeInput{Code: "6 * 7"}, nil
	}))
	flow := tta.Named("agent", tta.Then(
		tta.Retry(model, tta.InitialInterval(time.Millisecond), tta.Jitter(0)),
		tta.Primitive[tta.CodeInput, tta.CodeOutput](exec)))

	out, err := flow.Execute(tta.ContextWithTelemetry(context.Background(), tel), "what is six times seven?")
	if err != nil {
		panic(err)
	}
	fmt.Println("answer:", out.Results[0].Text)
	printTree(spans.GetSpans())
	// Output:
	// answer: 42
	// agent
	//   tta.Then
	//     tta.Retry [event tta.retry tta.retry.attempt=1 tta.retry.delay=0.001 error.type=other]
	//       model [error other]
	//       model
	//     tta.CodeExecution tta.template=code-interpreter-v1 tta.code.language=python tta.sandbox.pooled=false tta.code.error=false
	//       tta.sandbox.create tta.template=code-interpreter-v1
	//       tta.sandbox.ready tta.sandbox.probes=1 tta.sandbox.init_window=60
	//         tta.Timeout tta.timeout=60
	//           tta.Retry
	//       tta.code.run tta.code.language=python tta.code.error=false
	//       tta.sandbox.kill
	//         tta.Retry
}

// printTree prints spans as a tree, children in the order they started,
// with their attributes (sandbox IDs left out: they change from run to run),
// events and errors.
func printTree(spans tracetest.SpanStubs) {
	children := map[string][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if s.Parent.IsValid() {
			children[s.Parent.SpanID().String()] = append(children[s.Parent.SpanID().String()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		line := strings.Repeat("  ", depth) + s.Name
		for _, kv := range s.Attributes {
			if kv.Key != "tta.sandbox.id" && kv.Key != "error.type" {
				line += " " + show(kv)
			}
		}
		for _, ev := range s.Events {
			line += " [event " + ev.Name
			for _, kv := range ev.Attributes {
				line += " " + show(kv)
			}
			line += "]"
		}
		if s.Status.Description != "" {
			line += " [error " + s.Status.Description + "]"
		}
		fmt.Println(line)
		kids := children[s.SpanContext.SpanID().String()]
		sortByStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, s := range roots {
		walk(s, 0)
	}
}

func show(kv attribute.KeyValue) string { return string(kv.Key) + "=" + kv.Value.Emit() }
