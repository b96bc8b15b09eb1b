package tta

import (
	"context"
	"maps"
)

// Workflow identifies the workflow run a call belongs to. It travels in a
// context.Context (WithWorkflow, WorkflowFrom), so every primitive in a
// composition can read it: for logs, metrics or idempotency keys. A
// CodeExecutionPrimitive labels the sandboxes it creates for the call with
// it (see WithMetadata). The zero Workflow is valid and carries nothing.
//
// A Workflow is a plain value; WithWorkflow and WorkflowFrom copy Metadata, so
// a Workflow read from a context can be used and changed by one goroutine
// without affecting any other.
type Workflow struct {
	// ID names the workflow: the same for every run of it.
	ID string
	// RunID names this run of the workflow.
	RunID string
	// Metadata holds free-form labels, which also label the sandboxes made
	// for the workflow. It may be nil.
	Metadata map[string]string
}

// workflowKey is the context key of the Workflow.
type workflowKey struct{}

// WithWorkflow returns a copy of ctx that carries w, replacing any Workflow ctx
// already carries. It stores a copy of w.Metadata, so changing the map after
// the call does not change what the context carries.
func WithWorkflow(ctx context.Context, w Workflow) context.Context {
	w.Metadata = maps.Clone(w.Metadata)
	return context.WithValue(ctx, workflowKey{}, w)
}

// WorkflowFrom returns the Workflow ctx carries and true, or the zero Workflow
// and false when it carries none. The returned Metadata is a fresh copy (nil if
// the stored one was nil) that the caller may change freely; this costs one map
// copy per call.
func WorkflowFrom(ctx context.Context) (Workflow, bool) {
	w, ok := ctx.Value(workflowKey{}).(Workflow)
	if !ok {
		return Workflow{}, false
	}
	w.Metadata = maps.Clone(w.Metadata)
	return w, true
}
