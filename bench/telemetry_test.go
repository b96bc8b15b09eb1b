package bench

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/tta-dev/tta"
)

// noopTelemetry is a tta.Telemetry whose tracer and meter providers are
// OpenTelemetry's no-op ones: everything is reported, to nowhere.
func noopTelemetry(tb testing.TB) *tta.Telemetry {
	tel, err := tta.NewTelemetry(
		tta.WithTracerProvider(tracenoop.NewTracerProvider()),
		tta.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		tb.Fatal(err)
	}
	return tel
}

// hiddenNoopTelemetry reports to OpenTelemetry's no-op providers hidden
// behind types of their own, which tta does not recognise: the spans are
// started and the metrics recorded, to nowhere.
func hiddenNoopTelemetry(tb testing.TB) *tta.Telemetry {
	tel, err := tta.NewTelemetry(
		tta.WithTracerProvider(hiddenTracerProvider{tracenoop.NewTracerProvider()}),
		tta.WithMeterProvider(hiddenMeterProvider{metricnoop.NewMeterProvider()}))
	if err != nil {
		tb.Fatal(err)
	}
	return tel
}

type hiddenTracerProvider struct{ trace.TracerProvider }

type hiddenMeterProvider struct{ metric.MeterProvider }

// BenchmarkChain4Telemetry is Chain4 (tta) without a Telemetry in the
// context (off, the baseline) and with one reporting to OpenTelemetry's
// no-op providers (noop): the cost of the instrumentation when an
// application has wired OpenTelemetry but exports nothing. noop_hidden has
// the same providers behind types tta does not recognise, so that every
// span is started and every metric recorded: what the instrumentation
// itself costs, short of an SDK's work.
func BenchmarkChain4Telemetry(b *testing.B) {
	b.Run("off", func(b *testing.B) {
		p := ttaChain4()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("noop", func(b *testing.B) {
		p := ttaChain4()
		ctx := tta.ContextWithTelemetry(context.Background(), noopTelemetry(b))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("noop_hidden", func(b *testing.B) {
		p := ttaChain4()
		ctx := tta.ContextWithTelemetry(context.Background(), hiddenNoopTelemetry(b))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
