// Package otel shows and checks tta's telemetry with the OpenTelemetry SDK:
// its tests record the spans and metrics of workflows with the SDK's
// in-memory exporter and reader, and command agenttrace prints the trace of
// an agent workflow to stdout. It is a module of its own so that tta itself
// depends on the OpenTelemetry API only, never on the SDK or an exporter.
//
// To report a workflow, make a tta.Telemetry with the providers of your
// OpenTelemetry setup and attach it to the context of the calls:
//
//	tel, err := tta.NewTelemetry(
//	    tta.WithTracerProvider(tracerProvider),
//	    tta.WithMeterProvider(meterProvider),
//	    tta.WithLogger(slog.Default()))
//	...
//	ctx = tta.ContextWithTelemetry(ctx, tel)
//	out, err := flow.Execute(ctx, in)
//
// The package has no API of its own.
package otel
