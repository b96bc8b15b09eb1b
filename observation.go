package tta

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tta-dev/tta/e2b"
)

// The primitives of this package as they are reported (see Telemetry).
var (
	spanThen          = newReportName("tta.Then")
	spanSequence      = newReportName("tta.Sequence")
	spanParallel      = newReportName("tta.Parallel")
	spanRouter        = newReportName("tta.Router")
	spanWhen          = newReportName("tta.When")
	spanFallback      = newReportName("tta.Fallback")
	spanSaga          = newReportName("tta.Saga")
	spanRetry         = newReportName("tta.Retry")
	spanTimeout       = newReportName("tta.Timeout")
	spanBreaker       = newReportName("tta.CircuitBreaker")
	spanCache         = newReportName("tta.Cache")
	spanBulkhead      = newReportName("tta.Bulkhead")
	spanCodeExecution = newReportName("tta.CodeExecution")
	spanSession       = newReportName("tta.Session")
)

// The steps of a code execution, which are spans but not primitives.
const (
	spanCreate  = "tta.sandbox.create"
	spanReady   = "tta.sandbox.ready"
	spanRun     = "tta.code.run"
	spanInstall = "tta.sandbox.install"
)

// reportName is a primitive's name in reports: its span's name, and the
// tta.primitive attribute of its metrics, built once so that counting a call
// allocates nothing.
type reportName struct {
	name  string
	count []metric.AddOption // tta.primitive=name
}

func newReportName(name string) *reportName {
	return &reportName{name: name, count: []metric.AddOption{
		metric.WithAttributeSet(attribute.NewSet(attrPrimitive.String(name)))}}
}

// Attribute keys (see Telemetry).
const (
	attrPrimitive   = attribute.Key("tta.primitive")
	attrErrorType   = attribute.Key("error.type")
	attrAttempt     = attribute.Key("tta.retry.attempt")
	attrDelay       = attribute.Key("tta.retry.delay")
	attrTimeout     = attribute.Key("tta.timeout")
	attrFailed      = attribute.Key("tta.fallback.failed")
	attrBreakerFrom = attribute.Key("tta.breaker.from")
	attrBreakerTo   = attribute.Key("tta.breaker.to")
	attrBreaker     = attribute.Key("tta.breaker.state")
	attrCacheHit    = attribute.Key("tta.cache.hit")
	attrCacheShared = attribute.Key("tta.cache.shared")
)

// observation is the report of one Execute: its span, if spans are on, and
// the metrics and logs of its end. The zero observation, made when the
// context carries no Telemetry, reports nothing and costs a nil check per
// method.
type observation struct {
	t    *Telemetry
	span trace.Span  // nil without a tracer
	name *reportName // nil for a step of a code execution
}

// observe starts the observation of one Execute of the primitive called
// name, and returns the context to run it with: ctx itself when telemetry is
// off, ctx with the new span otherwise.
func observe(ctx context.Context, name *reportName) (context.Context, observation) {
	t := telemetryFrom(ctx)
	if t == nil {
		return ctx, observation{}
	}
	return t.start(ctx, name)
}

// start begins a span called name, when t has a tracer.
func (t *Telemetry) start(ctx context.Context, name *reportName) (context.Context, observation) {
	o := observation{t: t, name: name}
	if t.tracer != nil {
		ctx, o.span = t.tracer.Start(ctx, name.name)
	}
	return ctx, o
}

// recording reports whether the span records what it is given.
func (o observation) recording() bool {
	return o.span != nil && o.span.IsRecording()
}

// end ends the observation of a call that returned *errp: the span's status
// and the tta.executions and tta.errors metrics. It is meant to be deferred.
func (o observation) end(ctx context.Context, errp *error) {
	if o.t == nil {
		return
	}
	err := *errp
	kind := ""
	if err != nil {
		kind = errorKind(err)
	}
	if m := o.t.meters; m != nil {
		m.executions.Add(ctx, 1, o.name.count...)
		if err != nil {
			m.errors.Add(ctx, 1, metric.WithAttributes(attrPrimitive.String(o.name.name), attrErrorType.String(kind)))
		}
	}
	if o.span != nil {
		if err != nil {
			o.span.SetAttributes(attrErrorType.String(kind))
			o.span.SetStatus(codes.Error, kind)
		}
		o.span.End()
	}
}

// set adds attributes to the span. Callers on a hot path check recording
// first, so that building the attributes costs nothing when off.
func (o observation) set(attrs ...attribute.KeyValue) {
	if o.span != nil {
		o.span.SetAttributes(attrs...)
	}
}

// retried reports that Retry, whose attempt failed with err, tries again
// after delay.
func (o observation) retried(ctx context.Context, attempt int, delay time.Duration, err error) {
	if o.t == nil {
		return
	}
	kind := errorKind(err)
	if o.span != nil {
		o.span.AddEvent("tta.retry", trace.WithAttributes(
			attrAttempt.Int(attempt), attrDelay.Float64(delay.Seconds()), attrErrorType.String(kind)))
	}
	if m := o.t.meters; m != nil {
		m.retries.Add(ctx, 1, o.name.count...)
	}
	o.t.log(ctx, slog.LevelInfo, "tta: retrying", slog.Int("attempt", attempt),
		slog.Duration("delay", delay), slog.String("error.type", kind))
}

// fellBack reports that Fallback moves on from its failed'th primitive (0 the
// primary), which failed with err.
func (o observation) fellBack(ctx context.Context, failed int, err error) {
	if o.t == nil {
		return
	}
	kind := errorKind(err)
	if o.span != nil {
		o.span.AddEvent("tta.fallback", trace.WithAttributes(attrFailed.Int(failed), attrErrorType.String(kind)))
	}
	o.t.log(ctx, slog.LevelInfo, "tta: falling back", slog.Int("failed", failed), slog.String("error.type", kind))
}

// breakerChanged reports that a call saw its circuit breaker go from one
// state to another.
func (o observation) breakerChanged(ctx context.Context, from, to BreakerState) {
	if o.t == nil || from == to {
		return
	}
	if o.span != nil {
		o.span.AddEvent("tta.breaker.state_change", trace.WithAttributes(
			attrBreakerFrom.String(from.String()), attrBreakerTo.String(to.String())))
	}
	level := slog.LevelInfo
	if to == StateOpen {
		level = slog.LevelWarn
	}
	o.t.log(ctx, level, "tta: circuit breaker "+to.String(), slog.String("from", from.String()))
}

// log writes a record when t has a logger that keeps level.
func (t *Telemetry) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if t.logger == nil || !t.logger.Enabled(ctx, level) {
		return
	}
	t.logger.LogAttrs(ctx, level, msg, attrs...)
}

// errorKind names the kind of err for the error.type attribute: the kind of
// the outermost error in its chain that this package knows, "other" when it
// knows none. It never returns the message, which may quote what code printed.
func errorKind(err error) string {
	for e := err; e != nil; e = unwrapFirst(e) {
		switch e := e.(type) {
		case *timeoutError:
			return "timeout"
		case *RetryError:
			if e.stop == stopDone || e.stop == stopNotAttempted {
				return contextKind(e.ctxErr)
			}
			return "retry_exhausted"
		case *FallbackError:
			if e.Stopped != nil {
				return contextKind(e.Stopped)
			}
			return "fallback_exhausted"
		case *SagaError:
			return "saga"
		case *PanicError:
			return "panic"
		case *breakerOpenError:
			return "circuit_open"
		case *TemplateNotReadyError:
			return "template_not_ready"
		case *InstallError:
			return "install"
		case *codeTimeoutError:
			return "code_timeout"
		case *ExecutionError:
			return "code_error"
		case *SandboxError:
			if errors.Is(e, ErrClosed) {
				return "closed"
			}
			return "sandbox"
		case *e2b.APIError:
			switch {
			case errors.Is(e, e2b.ErrPortNotOpen):
				return "port_not_open"
			case errors.Is(e, e2b.ErrSandboxNotFound):
				return "sandbox_gone"
			case e.StatusCode > 0:
				return "http_" + strconv.Itoa(e.StatusCode)
			}
		}
		switch e {
		case ErrClosed:
			return "closed"
		case ErrTimeout:
			return "timeout"
		case ErrCircuitOpen:
			return "circuit_open"
		case ErrBulkheadFull:
			return "bulkhead_full"
		case ErrNoRoute:
			return "no_route"
		case ErrSandboxGone, e2b.ErrSandboxNotFound:
			return "sandbox_gone"
		case e2b.ErrPortNotOpen:
			return "port_not_open"
		case context.Canceled:
			return "canceled"
		case context.DeadlineExceeded:
			return "deadline_exceeded"
		}
	}
	return "other"
}

// contextKind names the kind of the error of a context that ended.
func contextKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline_exceeded"
	}
	return "canceled"
}

// unwrapFirst returns the error err wraps, the first one when it wraps
// several, or nil.
func unwrapFirst(err error) error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap()
	case interface{ Unwrap() []error }:
		if errs := u.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return nil
}
