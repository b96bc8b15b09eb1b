package otel_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

func TestMetrics_ExecutionsErrorsRetries(t *testing.T) {
	r := newRecorder(t)
	ctx := r.ctx(t)
	flaky := tta.Retry(tta.Named("model", failing(10, errors.New("overloaded"))), tta.MaxAttempts(3), tta.InitialInterval(0))
	_, err := flaky.Execute(ctx, 1)
	require.Error(t, err)
	_, err = tta.Named[int, int]("tool", tta.Func[int, int](inc)).Execute(ctx, 1)
	require.NoError(t, err)

	rm := r.collect(t)
	executions := metricNamed(t, rm, "tta.executions")
	assert.EqualValues(t, 3, sumOf(t, executions, attribute.String("tta.primitive", "model")))
	assert.EqualValues(t, 1, sumOf(t, executions, attribute.String("tta.primitive", "tta.Retry")))
	assert.EqualValues(t, 1, sumOf(t, executions, attribute.String("tta.primitive", "tool")))
	errs := metricNamed(t, rm, "tta.errors")
	assert.EqualValues(t, 3, sumOf(t, errs, attribute.String("tta.primitive", "model"), attribute.String("error.type", "other")))
	assert.EqualValues(t, 1, sumOf(t, errs, attribute.String("tta.primitive", "tta.Retry"), attribute.String("error.type", "retry_exhausted")))
	assert.Zero(t, sumOf(t, errs, attribute.String("tta.primitive", "tool")))
	assert.EqualValues(t, 2, sumOf(t, metricNamed(t, rm, "tta.retries"), attribute.String("tta.primitive", "tta.Retry")))
}

// histogramCount returns how many values the float64 histogram m recorded
// for template.
func histogramCount(t *testing.T, m metricdata.Metrics, template string) uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T", m.Name, m.Data)
	var n uint64
	for _, dp := range h.DataPoints {
		if v, ok := dp.Attributes.Value("tta.template"); ok && v.AsString() == template {
			n += dp.Count
		}
	}
	return n
}

// gauge returns the int64 gauge m's data points, by template.
func gauge(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%s is a %T", m.Name, m.Data)
	out := map[string]int64{}
	for _, dp := range g.DataPoints {
		v, _ := dp.Attributes.Value("tta.template")
		out[v.AsString()] = dp.Value
	}
	return out
}

func TestMetrics_SandboxesAndPool(t *testing.T) {
	r := newRecorder(t)
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake), tta.WithWarmPool(2), tta.WithTelemetry(r.tel))
	require.NoError(t, err)
	require.NoError(t, exec.WaitWarm(t.Context()))

	tpl := tta.DefaultTemplateName
	rm := r.collect(t)
	assert.Equal(t, map[string]int64{tpl: 2}, gauge(t, metricNamed(t, rm, "tta.pool.size")))
	assert.EqualValues(t, 2, sumOf(t, metricNamed(t, rm, "tta.sandboxes.live"), attribute.String("tta.template", tpl)))
	assert.EqualValues(t, 2, histogramCount(t, metricNamed(t, rm, "tta.sandbox.create.duration"), tpl))
	assert.EqualValues(t, 2, histogramCount(t, metricNamed(t, rm, "tta.sandbox.ready.duration"), tpl))

	out, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
	require.NoError(t, err)
	call := r.one(t, "tta.CodeExecution") // reported to the primitive's Telemetry
	assert.True(t, mustAttr(t, call.Attributes, "tta.sandbox.pooled").AsBool())
	assert.Equal(t, out.SandboxID, mustAttr(t, call.Attributes, "tta.sandbox.id").AsString())
	require.NoError(t, exec.WaitWarm(t.Context()))
	rm = r.collect(t)
	assert.EqualValues(t, 3, histogramCount(t, metricNamed(t, rm, "tta.sandbox.create.duration"), tpl), "the pool refilled")
	assert.EqualValues(t, 1, sumOf(t, metricNamed(t, rm, "tta.executions"), attribute.String("tta.primitive", "tta.CodeExecution")))

	require.NoError(t, exec.Close())
	fake.AssertNoLeaks(t)
	rm = r.collect(t)
	assert.Zero(t, sumOf(t, metricNamed(t, rm, "tta.sandboxes.live"), attribute.String("tta.template", tpl)), "every sandbox killed")
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "tta.pool.size" {
				assert.Empty(t, m.Data.(metricdata.Gauge[int64]).DataPoints, "a closed primitive reports no pool")
			}
		}
	}
}

// A call whose context carries a Telemetry counts its sandbox there, even
// when the primitive has none of its own.
func TestMetrics_LiveSandboxesFromTheCallsContext(t *testing.T) {
	r := newRecorder(t)
	fake := ttatest.NewFakeProvider()
	exec := testenv.FakeExec(t, fake)
	session, err := exec.NewSession(r.ctx(t))
	require.NoError(t, err)
	live := func() int64 {
		return sumOf(t, metricNamed(t, r.collect(t), "tta.sandboxes.live"), attribute.String("tta.template", tta.DefaultTemplateName))
	}
	assert.EqualValues(t, 1, live())
	require.NoError(t, session.Close())
	assert.Zero(t, live())
}
