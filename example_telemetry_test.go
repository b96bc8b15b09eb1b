package tta_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/tta-dev/tta"
)

// A Telemetry attached to the context reports every primitive run with it:
// here to a logger (spans and metrics go to OpenTelemetry providers given
// with WithTracerProvider and WithMeterProvider). Named gives a step its name
// in the reports and in Fallback's errors.
func ExampleNewTelemetry() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	tel, err := tta.NewTelemetry(tta.WithLogger(logger))
	if err != nil {
		panic(err)
	}

	large := tta.Named("large model", tta.Func[string, string](func(context.Context, string) (string, error) {
		return "", errors.New("overloaded")
	}))
	small := tta.Named("small model", tta.Func[string, string](func(_ context.Context, q string) (string, error) {
		return "a short answer to " + q, nil
	}))
	flow := tta.Fallback(tta.Retry(large, tta.MaxAttempts(2), tta.InitialInterval(0)), small)

	ctx := tta.ContextWithTelemetry(context.Background(), tel)
	answer, err := flow.Execute(ctx, "why?")
	fmt.Println(answer, err)
	// Output:
	// level=INFO msg="tta: retrying" attempt=1 delay=0s error.type=other
	// level=INFO msg="tta: falling back" failed=0 error.type=retry_exhausted
	// a short answer to why? <nil>
}
