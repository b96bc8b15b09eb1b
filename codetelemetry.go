package tta

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys of code execution (see Telemetry). None of them ever holds
// the code, its output, environment variables, API keys or access tokens.
const (
	attrTemplate   = attribute.Key("tta.template")
	attrLanguage   = attribute.Key("tta.code.language")
	attrSandboxID  = attribute.Key("tta.sandbox.id")
	attrPooled     = attribute.Key("tta.sandbox.pooled")
	attrProbes     = attribute.Key("tta.sandbox.probes")
	attrInitWindow = attribute.Key("tta.sandbox.init_window")
	attrCodeError  = attribute.Key("tta.code.error")
	attrCodeErrorN = attribute.Key("tta.code.error.name")
	attrPackages   = attribute.Key("tta.packages")
)

// observe starts the observation of a call of the primitive (spanCodeExecution)
// or of one of its sessions (spanSession): with the context's Telemetry, or
// the primitive's own (WithTelemetry) when the context carries none.
func (p *CodeExecutionPrimitive) observe(ctx context.Context, name *reportName, in CodeInput) (context.Context, observation) {
	t := telemetryFrom(ctx)
	if t == nil {
		if t = p.cfg.telemetry; t == nil {
			return ctx, observation{}
		}
		ctx = ContextWithTelemetry(ctx, t)
	}
	ctx, o := t.start(ctx, name)
	if o.recording() {
		o.set(attrTemplate.String(p.cfg.template.String()), attrLanguage.String(in.language()))
	}
	return ctx, o
}

// endCode ends the observation of a call that returned *outp and *errp: the
// sandbox it used and, once the code ran, whether it raised.
func (o observation) endCode(ctx context.Context, outp *CodeOutput, errp *error) {
	if o.recording() {
		out := *outp
		if out.SandboxID != "" {
			o.set(attrSandboxID.String(out.SandboxID))
		}
		codeErrorAttrs(o, out.Success, out.Error)
	}
	o.end(ctx, errp)
}

// codeErrorAttrs sets tta.code.error, and tta.code.error.name when the code
// raised; nothing when the code did not run to an end.
func codeErrorAttrs(o observation, success bool, e *ExecutionError) {
	switch {
	case e != nil:
		o.set(attrCodeError.Bool(true), attrCodeErrorN.String(e.Name))
	case success:
		o.set(attrCodeError.Bool(false))
	}
}

// startStep begins a span for one step of a code execution (spanCreate,
// spanReady, spanRun), a child of the call's. A step is not a primitive: it
// is not counted in tta.executions.
func startStep(ctx context.Context, name string) (context.Context, observation) {
	t := telemetryFrom(ctx)
	if t == nil || t.tracer == nil {
		return ctx, observation{t: t}
	}
	ctx, span := t.tracer.Start(ctx, name)
	return ctx, observation{t: t, span: span}
}

// endStep ends a step's span, with err's kind as its status.
func (o observation) endStep(err error) {
	if o.span == nil {
		return
	}
	if err != nil {
		kind := errorKind(err)
		o.span.SetAttributes(attrErrorType.String(kind))
		o.span.SetStatus(codes.Error, kind)
	}
	o.span.End()
}

// created reports a create that took d and made the sandbox id ("" when it
// failed with err).
func (o observation) created(ctx context.Context, template, id string, d time.Duration, err error) {
	if o.t == nil {
		return
	}
	if o.recording() {
		o.set(attrTemplate.String(template))
		if id != "" {
			o.set(attrSandboxID.String(id))
		}
	}
	o.endStep(err)
	if m := o.t.meters; m != nil {
		m.create.Record(ctx, d.Seconds(), metric.WithAttributes(attrTemplate.String(template)))
	}
	if err == nil {
		o.t.log(ctx, slog.LevelDebug, "tta: sandbox created", slog.String("template", template),
			slog.String("sandbox", id), slog.Duration("took", d))
	}
}

// readied reports a readiness wait of d with probes probes, which ended with
// err (nil: the interpreter answered).
func (o observation) readied(ctx context.Context, l *lease, window time.Duration, probes int, d time.Duration, err error) {
	if o.t == nil {
		return
	}
	if o.recording() {
		o.set(attrSandboxID.String(l.sb.ID()), attrProbes.Int(probes), attrInitWindow.Float64(window.Seconds()))
	}
	o.endStep(err)
	if m := o.t.meters; m != nil {
		m.ready.Record(ctx, d.Seconds(), metric.WithAttributes(attrTemplate.String(l.template)))
	}
	if kind := errorKind(err); err != nil && kind == "template_not_ready" {
		o.t.log(ctx, slog.LevelWarn, "tta: template not ready", slog.String("template", l.template),
			slog.String("sandbox", l.sb.ID()), slog.Int("probes", probes), slog.Duration("waited", d))
	}
}

// ran ends the span of a run that returned e (the code's error) and err.
func (o observation) ran(e *ExecutionError, err error) {
	if o.recording() {
		codeErrorAttrs(o, err == nil && e == nil, e)
	}
	o.endStep(err)
}

// sandboxLive reports that l's sandbox was created (delta 1) or killed (-1),
// to the Telemetry that saw it created.
func (l *lease) sandboxLive(ctx context.Context, delta int64) {
	t := l.telemetry
	if t == nil {
		return
	}
	if m := t.meters; m != nil {
		m.live.Add(ctx, delta, metric.WithAttributes(attrTemplate.String(l.template)))
	}
	if delta < 0 {
		t.log(ctx, slog.LevelDebug, "tta: sandbox killed", slog.String("template", l.template), slog.String("sandbox", l.sb.ID()))
	}
}

// killFailed reports a kill of l's sandbox that failed with err.
func (l *lease) killFailed(ctx context.Context, err error) {
	if t := l.telemetry; t != nil {
		t.log(ctx, slog.LevelWarn, "tta: sandbox kill failed", slog.String("template", l.template),
			slog.String("sandbox", l.sb.ID()), slog.String("error.type", errorKind(err)))
	}
}

// observePool registers the tta.pool.size gauge of p's warm pool with p's
// Telemetry, when it has metrics; Close unregisters it.
func (p *CodeExecutionPrimitive) observePool() error {
	t := p.cfg.telemetry
	if t == nil || t.meters == nil || p.pool == nil {
		return nil
	}
	attrs := metric.WithAttributes(attrTemplate.String(p.cfg.template.String()))
	reg, err := t.meter.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		ob.ObserveInt64(t.meters.pool, int64(len(p.pool)), attrs)
		return nil
	}, t.meters.pool)
	if err != nil {
		return err
	}
	p.poolGauge = reg
	return nil
}
