// Package ttatemporal runs tta primitives as Temporal activities, for agent
// workflows that outgrow one process: Temporal gives them durable execution
// across many workers, and tta gives each step its resilience and its
// sandboxes. It lives in a module of its own (github.com/tta-dev/tta/temporal)
// so that the root module does not pull Temporal's SDK into every build.
//
// # Activities
//
// Register makes any tta.Primitive[In, Out] an activity on a worker with one
// call, and the Activity it returns runs it from a workflow:
//
//	act, err := ttatemporal.Register(w, "summarise", tta.Retry(summarise, tta.MaxAttempts(4)))
//	...
//	out, err := act.Execute(ctx, in) // in a workflow
//
// The activity options come from the primitive's outermost Retry and Timeout
// (see Activity) and the options of this package override them. Temporal
// then runs the attempts; tta's Retry does not run again inside an attempt.
//
// # Errors
//
// An activity's error becomes a Temporal application error with a stable
// type (TypeTemplateNotReady, TypeCodeFailed, TypeSandbox, TypePermanent,
// TypeTransient, ...; ToTemporal). Errors tta does not retry (Permanent,
// Transient() false, code errors with tta.WithCodeErrorsAsErrors,
// tta.ErrTemplateNotReady, bad input) are non-retryable; transient ones stay
// retryable, with tta.RetryAfter as the next delay. On the workflow side,
// Execute returns an *Error that unwraps to the tta error rebuilt with its
// fields, so errors.Is and errors.As with tta's sentinels and types work as
// they do in one process (FromTemporal).
//
// # Code
//
// A tta.CodeExecutionPrimitive is a primitive like any other; give it
// HeartbeatProvider around its provider and its activity also knows its
// sandboxes:
//
//   - Every attempt heartbeats (a quarter of the heartbeat timeout apart)
//     the sandboxes it created and whether code started in one of them
//     (Progress); the start is recorded at the server before the code
//     starts.
//   - Cancelling the workflow cancels the attempt through its heartbeats:
//     the run stops and the sandbox is killed, as on any cancellation in
//     tta; by default the workflow waits for that (WaitForCancellation).
//   - When a worker is lost, Temporal schedules the next attempt after the
//     heartbeat timeout. That attempt reads the last heartbeat: it kills the
//     lost attempt's sandboxes (WithSandboxKiller, E2BKiller) and, if the
//     code had started, fails with a non-retryable *MayHaveRunError instead
//     of running it a second time (WithRerunStartedCode runs it again).
//   - Sandboxes carry the workflow's ID and run ID (tta.workflow, tta.run)
//     and the activity's ID and attempt (SandboxMetadata), by which a reaper
//     finds those of a lost worker that no heartbeat named (ReapE2B).
//
// Temporal runs an activity at least once; tta's rule is that code which
// may have started is never run again on its own. Both hold together: an
// attempt that may repeat code refuses, with an error that says so.
package ttatemporal
