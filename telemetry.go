package tta

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName is the name of the OpenTelemetry tracer and meter
// through which this package reports, the module path.
const InstrumentationName = "github.com/tta-dev/tta"

// Telemetry is where the primitives of this package report what they do:
// OpenTelemetry spans through a trace.TracerProvider, OpenTelemetry metrics
// through a metric.MeterProvider and records through a *slog.Logger, each
// only when given. Make one with NewTelemetry and attach it to a context with
// ContextWithTelemetry: every primitive of this package executed with that
// context, or one derived from it, reports to it. A CodeExecutionPrimitive
// can also be given one for good (WithTelemetry).
//
// What is reported:
//
//   - A span per Execute of every composition and decorator, named after it:
//     "tta.Then", "tta.Sequence", "tta.Parallel", "tta.Router", "tta.When",
//     "tta.Fallback", "tta.Saga", "tta.Retry", "tta.Timeout",
//     "tta.CircuitBreaker", "tta.Cache", "tta.Bulkhead", "tta.CodeExecution",
//     "tta.Session", and the name given to Named. A step's span is the child
//     of the span of the step that called it. A failed call's span has status
//     Error, described by its kind, which the attribute "error.type" holds
//     too: that of the outermost error in the chain this package knows
//     ("timeout", "retry_exhausted" and "fallback_exhausted" unless the
//     caller's context ended them, "circuit_open",
//     "bulkhead_full", "no_route", "saga", "panic", "template_not_ready",
//     "install", "sandbox", "code_timeout", "code_error", "closed",
//     "sandbox_gone", "canceled", "deadline_exceeded"; from package e2b,
//     "port_not_open" and "http_<status>"), "other" for errors of your own.
//     The error's message is not recorded: it may quote what the code
//     printed.
//   - Events on those spans: "tta.retry" before each retry (tta.retry.attempt,
//     the attempt that failed; tta.retry.delay, in seconds; error.type),
//     "tta.fallback" when Fallback moves on (tta.fallback.failed, the index of
//     the primitive that failed, 0 for the primary; error.type),
//     "tta.breaker.state_change" (tta.breaker.from, tta.breaker.to) when a
//     call saw its circuit breaker change state. Attributes: tta.timeout (the
//     Timeout's duration, in seconds), tta.breaker.state (the state a call
//     found), tta.cache.hit and tta.cache.shared (a miss that waited for a
//     concurrent call of the same key).
//   - Code execution: the "tta.CodeExecution" and "tta.Session" spans carry
//     tta.template, tta.code.language, tta.sandbox.id (and, on
//     "tta.CodeExecution", tta.sandbox.pooled: whether the sandbox came from
//     the warm pool) and, once the code ran, tta.code.error (whether it raised) and
//     tta.code.error.name (the exception's name, such as "ValueError"). Their
//     children "tta.sandbox.create", "tta.sandbox.ready" (tta.sandbox.probes,
//     tta.sandbox.init_window in seconds) and "tta.code.run" last as long as
//     the create, the readiness wait and the run; under the readiness wait,
//     the Timeout and Retry it is made of report each probe that failed as
//     a "tta.retry" event (counted in tta.retries, not logged). A pip
//     install (WithPackages, CodeInput.Packages) is a "tta.sandbox.install"
//     span with the packages in tta.packages. A kill is a
//     "tta.sandbox.kill" span, a Named primitive, possibly after its call's
//     span ended (with a warm pool it runs in the background). A sandbox
//     created for the warm pool is reported to the primitive's own
//     Telemetry (WithTelemetry), if any. Never recorded: the code,
//     its output, the exception's value and traceback, environment variables
//     (neither names nor values), files, API keys and access tokens.
//   - Metrics: tta.executions and tta.errors (counters by tta.primitive, and
//     error.type for errors), tta.retries (by tta.primitive),
//     tta.sandbox.create.duration and tta.sandbox.ready.duration (histograms
//     in seconds, by tta.template), tta.sandboxes.live (an up-down counter of
//     sandboxes created and not yet killed, by tta.template) and
//     tta.pool.size (a gauge of ready sandboxes in warm pools, reported for
//     a CodeExecutionPrimitive given WithTelemetry).
//   - Logs, with the context of the call: retries and fallbacks (Info),
//     circuit breaker state changes (Warn when a circuit opens, Info
//     otherwise), sandboxes created and killed (Debug), a template that did
//     not become ready and a kill that failed (Warn).
//
// Off by default: without a Telemetry in the context the primitives report
// nothing, allocate nothing more and pay one atomic load per Execute (until
// the first ContextWithTelemetry of the process; a context lookup per
// Execute after that). A Telemetry is immutable and safe for concurrent use.
type Telemetry struct {
	tracer trace.Tracer     // nil: no spans
	meters *telemetryMeters // nil: no metrics
	meter  metric.Meter     // nil: no metrics; registers the pool gauge's callbacks
	logger *slog.Logger     // nil: no logs
	// quiet is this Telemetry without its logger, for the readiness wait,
	// whose probes are retries that would otherwise each log one. It is t
	// itself when t has no logger.
	quiet *Telemetry
}

// TelemetryOption configures NewTelemetry. Options apply in order; the last
// one setting a thing wins.
type TelemetryOption func(*telemetryConfig)

type telemetryConfig struct {
	tp     trace.TracerProvider
	mp     metric.MeterProvider
	logger *slog.Logger
}

// WithTracerProvider makes the Telemetry emit spans through tp's tracer
// named InstrumentationName. Without it there are no spans.
// WithTracerProvider panics if tp is nil.
func WithTracerProvider(tp trace.TracerProvider) TelemetryOption {
	if isNil(tp) {
		misuse("WithTracerProvider", "tracer provider is nil; pass one (such as the OpenTelemetry SDK's), or omit the option for no spans")
	}
	return func(c *telemetryConfig) { c.tp = tp }
}

// WithMeterProvider makes the Telemetry record metrics through mp's meter
// named InstrumentationName. Without it there are no metrics.
// WithMeterProvider panics if mp is nil.
func WithMeterProvider(mp metric.MeterProvider) TelemetryOption {
	if isNil(mp) {
		misuse("WithMeterProvider", "meter provider is nil; pass one (such as the OpenTelemetry SDK's), or omit the option for no metrics")
	}
	return func(c *telemetryConfig) { c.mp = mp }
}

// WithLogger makes the Telemetry write records to l, which decides the
// levels it keeps. Without it nothing is logged. WithLogger panics if l is
// nil.
func WithLogger(l *slog.Logger) TelemetryOption {
	if l == nil {
		misuse("WithLogger", "logger is nil; pass a *slog.Logger, or omit the option for no logs")
	}
	return func(c *telemetryConfig) { c.logger = l }
}

// NewTelemetry returns a Telemetry reporting as its options say; with none,
// it reports nothing. The no-op providers of OpenTelemetry's packages
// trace/noop and metric/noop are recognised as reporting nothing, and so
// cost nothing. It creates the metric instruments at once and returns
// the errors the meter reported while doing so, joined, along with the
// Telemetry (OpenTelemetry's instruments remain usable after such an error).
// NewTelemetry panics if an option is nil.
func NewTelemetry(opts ...TelemetryOption) (*Telemetry, error) {
	var cfg telemetryConfig
	for i, o := range opts {
		if o == nil {
			misuse("NewTelemetry", "the %s option is nil; pass options made by WithTracerProvider, WithMeterProvider and WithLogger", ordinal(i))
		}
		o(&cfg)
	}
	t := &Telemetry{logger: cfg.logger}
	if _, noop := cfg.tp.(tracenoop.TracerProvider); cfg.tp != nil && !noop {
		t.tracer = cfg.tp.Tracer(InstrumentationName)
	}
	var err error
	if _, noop := cfg.mp.(metricnoop.MeterProvider); cfg.mp != nil && !noop {
		t.meter = cfg.mp.Meter(InstrumentationName)
		t.meters, err = newTelemetryMeters(t.meter)
	}
	t.quiet = t
	if t.logger != nil {
		q := *t
		q.logger = nil
		q.quiet = &q
		t.quiet = &q
	}
	return t, err
}

// telemetryMeters are the instruments of one Telemetry.
type telemetryMeters struct {
	executions metric.Int64Counter
	errors     metric.Int64Counter
	retries    metric.Int64Counter
	create     metric.Float64Histogram
	ready      metric.Float64Histogram
	live       metric.Int64UpDownCounter
	pool       metric.Int64ObservableGauge
}

func newTelemetryMeters(m metric.Meter) (*telemetryMeters, error) {
	var ms telemetryMeters
	var errs [7]error
	ms.executions, errs[0] = m.Int64Counter("tta.executions",
		metric.WithDescription("Calls of a primitive's Execute."), metric.WithUnit("{call}"))
	ms.errors, errs[1] = m.Int64Counter("tta.errors",
		metric.WithDescription("Calls of a primitive's Execute that returned an error, by error.type."), metric.WithUnit("{call}"))
	ms.retries, errs[2] = m.Int64Counter("tta.retries",
		metric.WithDescription("Attempts Retry made after a failed one."), metric.WithUnit("{retry}"))
	ms.create, errs[3] = m.Float64Histogram("tta.sandbox.create.duration",
		metric.WithDescription("Time a provider took to create a sandbox."), metric.WithUnit("s"))
	ms.ready, errs[4] = m.Float64Histogram("tta.sandbox.ready.duration",
		metric.WithDescription("Time from a sandbox's creation until its code interpreter answered, or the wait failed."), metric.WithUnit("s"))
	ms.live, errs[5] = m.Int64UpDownCounter("tta.sandboxes.live",
		metric.WithDescription("Sandboxes created and not yet killed."), metric.WithUnit("{sandbox}"))
	ms.pool, errs[6] = m.Int64ObservableGauge("tta.pool.size",
		metric.WithDescription("Ready sandboxes waiting in a warm pool."), metric.WithUnit("{sandbox}"))
	return &ms, errors.Join(errs[:]...)
}

// telemetryKey is the context key of the Telemetry.
type telemetryKey struct{}

// telemetryUsed is set by the first ContextWithTelemetry, so that until then
// a primitive does not even look in its context.
var telemetryUsed atomic.Bool

// ContextWithTelemetry returns a copy of ctx that carries t: every primitive
// of this package executed with it reports to t (see Telemetry). A nil t
// turns reporting off for the calls made with the returned context, even
// when ctx carries a Telemetry.
func ContextWithTelemetry(ctx context.Context, t *Telemetry) context.Context {
	telemetryUsed.Store(true)
	return context.WithValue(ctx, telemetryKey{}, t)
}

// telemetryFrom returns the Telemetry ctx carries, or nil.
func telemetryFrom(ctx context.Context) *Telemetry {
	if !telemetryUsed.Load() {
		return nil
	}
	t, _ := ctx.Value(telemetryKey{}).(*Telemetry)
	if t != nil && t.tracer == nil && t.meters == nil && t.logger == nil {
		return nil // reports nothing: not worth a call to its methods
	}
	return t
}
