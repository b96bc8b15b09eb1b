package tta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/tta-dev/tta/e2b"
)

func TestTelemetry_Misuse(t *testing.T) {
	assertMisusePanics(t, []misuseCase{
		{"nil tracer provider", "tta: WithTracerProvider: tracer provider is nil; pass one (such as the OpenTelemetry SDK's), or omit the option for no spans",
			func() { WithTracerProvider(nil) }},
		{"nil meter provider", "tta: WithMeterProvider: meter provider is nil; pass one (such as the OpenTelemetry SDK's), or omit the option for no metrics",
			func() { WithMeterProvider(nil) }},
		{"nil logger", "tta: WithLogger: logger is nil; pass a *slog.Logger, or omit the option for no logs",
			func() { WithLogger(nil) }},
		{"nil option", "tta: NewTelemetry: the second option is nil; pass options made by WithTracerProvider, WithMeterProvider and WithLogger",
			func() { _, _ = NewTelemetry(WithLogger(slog.Default()), nil) }},
		{"nil telemetry for a code execution", "tta: WithTelemetry: telemetry is nil; pass one made by NewTelemetry, or omit the option",
			func() { WithTelemetry(nil) }},
		{"empty name", "tta: Named: name is empty; pass the name the step should have in traces, metrics and errors",
			func() { Named[int, int]("", succeeding()) }},
		{"nil named primitive", "tta: Named: primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
			func() { Named[int, int]("step", nil) }},
	})
}

func TestErrorKind(t *testing.T) {
	boom := errors.New("boom: secret-value")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&timeoutError{d: 1}, "timeout"},
		{&RetryError{Last: &timeoutError{d: 1}}, "retry_exhausted"},
		{Permanent(&RetryError{Last: boom}), "retry_exhausted"},
		{&RetryError{Last: boom, stop: stopDone, ctxErr: context.Canceled}, "canceled"},
		{&RetryError{Last: context.DeadlineExceeded, stop: stopNotAttempted, ctxErr: context.DeadlineExceeded}, "deadline_exceeded"},
		{&RetryError{Last: boom, stop: stopDeadline, ctxErr: context.DeadlineExceeded}, "retry_exhausted"},
		{&FallbackError{Errs: []error{boom}, Stopped: context.Canceled}, "canceled"},
		{&FallbackError{Errs: []error{boom}}, "fallback_exhausted"},
		{&SagaError{Err: boom}, "saga"},
		{newPanicError("x"), "panic"},
		{&breakerOpenError{halfOpenIn: 1}, "circuit_open"},
		{fmt.Errorf("%w: queue full", ErrBulkheadFull), "bulkhead_full"},
		{fmt.Errorf("%w for key 3", ErrNoRoute), "no_route"},
		{&TemplateNotReadyError{Template: "t"}, "template_not_ready"},
		{&InstallError{}, "install"},
		{&SandboxError{Op: "run", Err: boom}, "sandbox"},
		{&SandboxError{Op: "create", Err: ErrClosed}, "closed"},
		{Permanent(fmt.Errorf("%w during the call: %w", ErrClosed, boom)), "closed"},
		{Permanent(&ExecutionError{Name: "ValueError", Value: "secret-value"}), "code_error"},
		{&codeTimeoutError{d: 1}, "code_timeout"},
		{fmt.Errorf("wrapped: %w", context.Canceled), "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded"},
		{&e2b.APIError{StatusCode: 502, Code: 502, Message: "The sandbox is running but port is not open", Port: 49999}, "port_not_open"},
		{fmt.Errorf("probe: %w", e2b.ErrPortNotOpen), "port_not_open"},
		{&e2b.APIError{StatusCode: 404, Op: "get sandbox"}, "http_404"},
		{fmt.Errorf("run: %w", e2b.ErrSandboxNotFound), "sandbox_gone"},
		{&e2b.APIError{StatusCode: 429, Message: "rate limited"}, "http_429"},
		{&SandboxError{Op: "create", Err: &e2b.APIError{StatusCode: 503}}, "sandbox"},
		{boom, "other"},
	} {
		t.Run(fmt.Sprintf("%T", tc.err), func(t *testing.T) {
			assert.Equal(t, tc.want, errorKind(tc.err))
		})
	}
}

// A Telemetry that reports nothing, or only to a logger, costs a successful
// call no allocation.
func TestTelemetry_HappyPathAllocatesNothing(t *testing.T) {
	silent, err := NewTelemetry(WithTracerProvider(tracenoop.NewTracerProvider()))
	require.NoError(t, err)
	require.Nil(t, silent.tracer, "the no-op tracer provider is recognised")
	logging, err := NewTelemetry(WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	for name, tel := range map[string]*Telemetry{"no-op": silent, "logger": logging} {
		t.Run(name, func(t *testing.T) {
			ctx := ContextWithTelemetry(t.Context(), tel)
			p := Retry(Fallback(CircuitBreaker(Named[int, int]("step", succeeding())), succeeding()))
			allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, 1) })
			assert.Zero(t, allocs)
		})
	}
}

func TestNamed_LabelsFallbackErrors(t *testing.T) {
	big := Named[int, int]("large model", failNTimes(1, errors.New("overloaded")))
	small := Named[int, int]("small model", failNTimes(1, errors.New("down")))
	_, err := Fallback(big, small).Execute(t.Context(), 1)
	require.EqualError(t, err, "tta: all 2 alternatives failed: primary (large model): overloaded; alternative 1 (small model): down")
}

func TestNamed_ReturnsWhatItsPrimitiveReturns(t *testing.T) {
	c := succeeding()
	out, err := Named[int, int]("step", c).Execute(t.Context(), 41)
	require.NoError(t, err)
	assert.Equal(t, 42, out)
	assert.Equal(t, 1, c.Calls())
}
