package otel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/tta-dev/tta"
)

func inc(_ context.Context, in int) (int, error) { return in + 1, nil }

// failing returns a primitive whose first n calls fail with err.
func failing(n int, err error) tta.Primitive[int, int] {
	calls := 0
	return tta.Func[int, int](func(_ context.Context, in int) (int, error) {
		calls++
		if calls <= n {
			return 0, err
		}
		return in + 1, nil
	})
}

func TestSpans_NestLikeTheWorkflow(t *testing.T) {
	r := newRecorder(t)
	model := tta.Fallback(
		tta.Retry(tta.CircuitBreaker(tta.Named("large model", failing(5, errors.New("overloaded")))),
			tta.MaxAttempts(2), tta.InitialInterval(0), tta.Jitter(0)),
		tta.Named[int, int]("small model", tta.Func[int, int](inc)))
	flow := tta.Named("agent", tta.Timeout(tta.Then(tta.Named[int, int]("plan", tta.Func[int, int](inc)), model), time.Minute))

	out, err := flow.Execute(r.ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 3, out)

	assert.Equal(t, `agent
  tta.Timeout
    tta.Then
      plan
      tta.Fallback
        tta.Retry
          tta.CircuitBreaker
            large model
          tta.CircuitBreaker
            large model
        small model
`, r.tree())
	traceID := r.one(t, "agent").SpanContext.TraceID()
	for _, s := range r.ended() {
		assert.Equal(t, traceID, s.SpanContext.TraceID(), "%s is in the workflow's trace", s.Name)
	}

	timeout := r.one(t, "tta.Timeout")
	assert.Equal(t, 60.0, mustAttr(t, timeout.Attributes, "tta.timeout").AsFloat64())
	assert.Equal(t, codes.Unset, timeout.Status.Code)

	retry := r.one(t, "tta.Retry")
	require.Len(t, retry.Events, 1, "one retry after the first attempt")
	ev := retry.Events[0]
	assert.Equal(t, "tta.retry", ev.Name)
	assert.EqualValues(t, 1, mustAttr(t, ev.Attributes, "tta.retry.attempt").AsInt64())
	assert.Equal(t, 0.0, mustAttr(t, ev.Attributes, "tta.retry.delay").AsFloat64())
	assert.Equal(t, "other", mustAttr(t, ev.Attributes, "error.type").AsString())
	assert.Equal(t, codes.Error, retry.Status.Code)
	assert.Equal(t, "retry_exhausted", retry.Status.Description)
	assert.Equal(t, "retry_exhausted", mustAttr(t, retry.Attributes, "error.type").AsString())
	for _, s := range r.named("large model") {
		assert.Equal(t, codes.Error, s.Status.Code)
		assert.Equal(t, "other", s.Status.Description, "the kind, never the message")
	}

	fallback := r.one(t, "tta.Fallback")
	require.Len(t, fallback.Events, 1)
	assert.Equal(t, "tta.fallback", fallback.Events[0].Name)
	assert.EqualValues(t, 0, mustAttr(t, fallback.Events[0].Attributes, "tta.fallback.failed").AsInt64())
	assert.Equal(t, "retry_exhausted", mustAttr(t, fallback.Events[0].Attributes, "error.type").AsString())
	assert.Equal(t, codes.Unset, fallback.Status.Code, "the fallback succeeded")
}

func TestSpans_RetryDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(t)
		p := tta.Retry(failing(2, errors.New("flaky")), tta.MaxAttempts(3), tta.InitialInterval(time.Second), tta.Jitter(0))
		_, err := p.Execute(r.ctx(t), 1)
		require.NoError(t, err)
		events := r.one(t, "tta.Retry").Events
		require.Len(t, events, 2)
		for i, want := range []float64{1, 2} {
			assert.EqualValues(t, i+1, mustAttr(t, events[i].Attributes, "tta.retry.attempt").AsInt64())
			assert.Equal(t, want, mustAttr(t, events[i].Attributes, "tta.retry.delay").AsFloat64())
		}
	})
}

func TestSpans_TimeoutExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(t)
		slow := tta.Func[int, int](func(ctx context.Context, _ int) (int, error) {
			<-ctx.Done()
			return 0, context.Cause(ctx)
		})
		_, err := tta.Timeout(slow, 2*time.Second).Execute(r.ctx(t), 1)
		require.ErrorIs(t, err, tta.ErrTimeout)
		s := r.one(t, "tta.Timeout")
		assert.Equal(t, codes.Error, s.Status.Code)
		assert.Equal(t, "timeout", s.Status.Description)
		assert.Equal(t, 2*time.Second, s.EndTime.Sub(s.StartTime))
	})
}

func TestSpans_BreakerStateChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(t)
		healthy := false
		p := tta.CircuitBreaker(tta.Func[int, int](func(_ context.Context, in int) (int, error) {
			if !healthy {
				return 0, errors.New("down")
			}
			return in, nil
		}), tta.FailureThreshold(1), tta.OpenDuration(time.Second))
		ctx := r.ctx(t)
		_, err := p.Execute(ctx, 1) // opens
		require.Error(t, err)
		_, err = p.Execute(ctx, 1) // rejected
		require.ErrorIs(t, err, tta.ErrCircuitOpen)
		time.Sleep(time.Second) // fake time: the circuit half-opens
		healthy = true
		_, err = p.Execute(ctx, 1) // a trial that closes it
		require.NoError(t, err)

		spans := r.named("tta.CircuitBreaker")
		require.Len(t, spans, 3)
		change := func(i int) (from, to string) {
			t.Helper()
			require.Len(t, spans[i].Events, 1, "call %d", i)
			ev := spans[i].Events[0]
			assert.Equal(t, "tta.breaker.state_change", ev.Name)
			return mustAttr(t, ev.Attributes, "tta.breaker.from").AsString(), mustAttr(t, ev.Attributes, "tta.breaker.to").AsString()
		}
		from, to := change(0)
		assert.Equal(t, []string{"closed", "open"}, []string{from, to})
		assert.Empty(t, spans[1].Events, "a rejected call changes nothing")
		assert.Equal(t, "open", mustAttr(t, spans[1].Attributes, "tta.breaker.state").AsString())
		assert.Equal(t, "circuit_open", spans[1].Status.Description)
		from, to = change(2)
		assert.Equal(t, []string{"open", "closed"}, []string{from, to}, "through half-open, within the call")
	})
}

func TestSpans_CacheHitAndMiss(t *testing.T) {
	r := newRecorder(t)
	p := tta.Cache(tta.Func[int, int](inc), func(in int) int { return in })
	ctx := r.ctx(t)
	for range 2 {
		_, err := p.Execute(ctx, 1)
		require.NoError(t, err)
	}
	spans := r.named("tta.Cache")
	require.Len(t, spans, 2)
	assert.False(t, mustAttr(t, spans[0].Attributes, "tta.cache.hit").AsBool())
	assert.False(t, mustAttr(t, spans[0].Attributes, "tta.cache.shared").AsBool())
	assert.True(t, mustAttr(t, spans[1].Attributes, "tta.cache.hit").AsBool())
}

func TestSpans_EveryComposition(t *testing.T) {
	r := newRecorder(t)
	step := tta.Primitive[int, int](tta.Func[int, int](inc))
	flow := tta.Then(
		tta.Sequence(
			tta.Router(func(int) string { return "a" }, map[string]tta.Primitive[int, int]{"a": step}, nil),
			tta.When(func(int) bool { return true }, step, step),
			tta.Bulkhead(step, 1),
			tta.Saga(tta.SagaStep[int]{Name: "book", Do: step}),
		),
		tta.Parallel(tta.Named("left", step), tta.Named("right", step)))
	outs, err := flow.Execute(r.ctx(t), 0)
	require.NoError(t, err)
	assert.Equal(t, []int{5, 5}, outs)
	tree := r.tree()
	assert.Contains(t, tree, `tta.Then
  tta.Sequence
    tta.Router
    tta.When
    tta.Bulkhead
    tta.Saga
  tta.Parallel
`)
	parallel := r.one(t, "tta.Parallel").SpanContext.SpanID()
	for _, branch := range []string{"left", "right"} {
		assert.Equal(t, parallel, r.one(t, branch).Parent.SpanID(), "%s runs in its own goroutine, under tta.Parallel", branch)
	}
}

func TestSpans_NoTelemetryNoSpans(t *testing.T) {
	r := newRecorder(t)
	off, err := tta.NewTelemetry()
	require.NoError(t, err)
	p := tta.Retry(tta.Named("step", failing(1, errors.New("flaky"))), tta.InitialInterval(0))
	for _, ctx := range []context.Context{t.Context(), tta.ContextWithTelemetry(r.ctx(t), nil), tta.ContextWithTelemetry(r.ctx(t), off)} {
		_, err := p.Execute(ctx, 1)
		require.NoError(t, err)
	}
	assert.Empty(t, r.ended())
}
