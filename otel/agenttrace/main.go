// Command agenttrace runs an agent's workflow with tta's telemetry on and
// prints its trace to stdout through OpenTelemetry's stdout exporter, one
// JSON object a span, as each span ends (children before their parents):
//
//	agent                                   Named, around the whole question
//	  tta.Timeout                           2 min for everything
//	    tta.Then
//	      tta.Then
//	        plan                            the model writes code
//	          tta.Fallback                    large model, else small model
//	            tta.Retry                     the large model is overloaded
//	              tta.Timeout
//	                large model
//	            small model
//	        python                          the code runs in a sandbox
//	          tta.Retry
//	            tta.CodeExecution
//	              tta.sandbox.create, tta.sandbox.ready, tta.code.run, tta.sandbox.kill
//	      answer                            the model reads the result
//
// The models are stand-ins (functions); the code runs for real: without
// E2B_API_KEY on an E2B-compatible server embedded in the program (python3
// must be on PATH), with it on E2B. The spans carry what an operator needs
// (retries and their delays, the fallback taken, the sandbox, its create
// time and readiness wait, whether the code raised) and never the code, its
// output, environment variables or keys.
//
//	go run ./agenttrace      (from the otel directory)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/local"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agenttrace:", err)
		os.Exit(1)
	}
}

// question is what the agent is asked.
const question = "What is the sum of the squares of the primes below 50?"

// errOverloaded is the large model's answer today.
var errOverloaded = errors.New("large model: overloaded, try later")

// run answers question with a workflow whose spans go to w, then writes the
// answer to w.
func run(ctx context.Context, w io.Writer) error {
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.WithoutCancel(ctx))
	tel, err := tta.NewTelemetry(tta.WithTracerProvider(tp))
	if err != nil {
		return err
	}

	backend, err := local.Open()
	if err != nil {
		return err
	}
	defer backend.Close()
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()))
	if err != nil {
		return err
	}
	defer exec.Close()

	largeModel := tta.Named("large model", tta.Func[string, string](func(context.Context, string) (string, error) {
		return "", errOverloaded
	}))
	smallModel := tta.Named("small model", tta.Func[string, string](func(context.Context, string) (string, error) {
		return "sum(p * p for p in range(2, 50) if all(p % d for d in range(2, p)))", nil
	}))
	plan := tta.Named("plan", tta.Fallback(
		tta.Retry(tta.Timeout(largeModel, 10*time.Second), tta.MaxAttempts(2), tta.InitialInterval(50*time.Millisecond)),
		smallModel))
	python := tta.Named("python", tta.Then(
		tta.Func[string, tta.CodeInput](func(_ context.Context, code string) (tta.CodeInput, error) {
			return tta.CodeInput{Code: code}, nil
		}),
		tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(3))))
	answer := tta.Named("answer", tta.Func[tta.CodeOutput, string](func(_ context.Context, out tta.CodeOutput) (string, error) {
		if out.Error != nil {
			return "", out.Error
		}
		for _, r := range out.Results {
			if r.IsMain {
				return r.Text, nil
			}
		}
		return "", errors.New("the code returned nothing")
	}))
	agent := tta.Named("agent", tta.Timeout(tta.Then(tta.Then(plan, python), answer), 2*time.Minute))

	got, err := agent.Execute(tta.ContextWithTelemetry(ctx, tel), question)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\nanswer: %s\n", question, got)
	return nil
}
