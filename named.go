package tta

import "context"

// Named returns p under a name, for the reports of a workflow: with a
// Telemetry in the context (ContextWithTelemetry), each call is a span called
// name and is counted under tta.primitive=name, and Fallback labels p's
// errors with name ("alternative 1 (name): ..."). Name the steps an operator
// should recognise in a trace: the model call, each tool, the code run.
//
// Execute calls p.Execute with the span in its context and returns what p
// returned, unchanged. Without a Telemetry in the context it adds one atomic
// load to the call and allocates nothing. Named panics if name is empty or p
// is nil. The returned Primitive is immutable and safe for concurrent use if
// p is.
func Named[In, Out any](name string, p Primitive[In, Out]) Primitive[In, Out] {
	if name == "" {
		misuse("Named", "name is empty; pass the name the step should have in traces, metrics and errors")
	}
	mustNotBeNil("Named", "primitive", p)
	return &named[In, Out]{name: newReportName(name), p: p}
}

type named[In, Out any] struct {
	name *reportName
	p    Primitive[In, Out]
}

func (n *named[In, Out]) Execute(ctx context.Context, in In) (out Out, err error) {
	ctx, o := observe(ctx, n.name)
	defer o.end(ctx, &err)
	return n.p.Execute(ctx, in)
}

// String returns the name.
func (n *named[In, Out]) String() string { return n.name.name }
