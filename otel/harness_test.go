package otel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tta-dev/tta"
)

// recorder is a tta.Telemetry backed by the OpenTelemetry SDK, whose spans
// and metrics a test reads back.
type recorder struct {
	spans   *tracetest.InMemoryExporter
	metrics *sdkmetric.ManualReader
	tel     *tta.Telemetry
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{spans: tracetest.NewInMemoryExporter(), metrics: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.metrics))
	t.Cleanup(func() {
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	})
	var err error
	r.tel, err = tta.NewTelemetry(tta.WithTracerProvider(tp), tta.WithMeterProvider(mp))
	require.NoError(t, err)
	return r
}

// ctx returns t's context carrying the recorder's Telemetry.
func (r *recorder) ctx(t *testing.T) context.Context {
	return tta.ContextWithTelemetry(t.Context(), r.tel)
}

// ended returns the spans ended so far.
func (r *recorder) ended() tracetest.SpanStubs { return r.spans.GetSpans() }

// named returns the ended spans called name, in the order they ended.
func (r *recorder) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.ended() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only ended span called name.
func (r *recorder) one(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	spans := r.named(name)
	require.Len(t, spans, 1, "spans called %q among %v", name, spanNames(r.ended()))
	return spans[0]
}

// tree renders the ended spans as an indented tree of names, children in
// the order they started.
func (r *recorder) tree() string {
	spans := r.ended()
	children := map[string][]tracetest.SpanStub{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID().String()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID().String(); s.Parent.IsValid() && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + s.Name + "\n")
		kids := children[s.SpanContext.SpanID().String()]
		sortByStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	sortByStart(roots)
	for _, s := range roots {
		walk(s, 0)
	}
	return b.String()
}

func sortByStart(spans []tracetest.SpanStub) {
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].StartTime.Before(spans[j-1].StartTime); j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	return names
}

// attr returns the value of the attribute key among attrs.
func attr(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// mustAttr is attr that fails t when the attribute is missing.
func mustAttr(t *testing.T, attrs []attribute.KeyValue, key string) attribute.Value {
	t.Helper()
	v, ok := attr(attrs, key)
	require.True(t, ok, "no attribute %s among %v", key, attrs)
	return v
}

// collect reads the metrics recorded so far.
func (r *recorder) collect(t *testing.T) metricdata.ResourceMetrics {
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.metrics.Collect(context.Background(), &rm))
	return rm
}

// metric returns the metric called name.
func metricNamed(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sumOf returns the value of the int64 sum's data point whose attributes
// include every one of want.
func sumOf(t *testing.T, m metricdata.Metrics, want ...attribute.KeyValue) int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", m.Name, m.Data)
	var total int64
	for _, dp := range sum.DataPoints {
		if hasAll(dp.Attributes, want) {
			total += dp.Value
		}
	}
	return total
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}
