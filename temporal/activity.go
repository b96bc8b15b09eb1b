package ttatemporal

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
)

// Activity is a tta primitive run as a Temporal activity: Register puts it on
// a worker, Execute runs it from a workflow. Build it with NewActivity, or
// build and register it in one call with Register; the workflow side and the
// activity side may be different processes, each building the same Activity.
//
// NewActivity derives the activity options from the primitive's outermost
// decorators, read from the outside in:
//
//	Timeout(Retry(Timeout(p, each), opts...), total)
//	        │           └ StartToCloseTimeout = each
//	        └ RetryPolicy from opts (MaxAttempts, InitialInterval,
//	          MaxInterval, Multiplier); MaxElapsedTime and total give
//	          ScheduleToCloseTimeout (the smaller)
//
// and each attempt runs p alone: Temporal runs the attempts, tta's Retry and
// Timeout do not run again inside them. A Timeout without a Retry bounds the
// single attempt. Retry's jitter has no Temporal counterpart and is dropped.
// Where the primitive says nothing, StartToCloseTimeout is
// DefaultStartToCloseTimeout, HeartbeatTimeout DefaultHeartbeatTimeout, and
// WaitForCancellation is true, so that a cancelled workflow waits for the
// activity to clean up (kill its sandboxes). The options override all this.
//
// Which errors are retried follows tta's rules, not only the policy: an
// error that the primitive's Retry would not retry (Permanent, Transient()
// false, refused by RetryIf) is returned as a non-retryable application
// error, and without a Retry every error of the primitive is (tta runs a
// primitive without Retry once; its type still says whether the error
// itself is transient). Attempts lost to a worker that died or
// timed out are retried by the policy in both cases (Temporal's default
// policy without a Retry): that is how another worker finishes the work.
// See the package documentation for the error mapping and for code.
//
// An Activity is immutable and safe for concurrent use.
type Activity[In, Out any] struct {
	name      string
	p         tta.Primitive[In, Out] // what one attempt runs
	retryable func(error) bool       // nil: the primitive has no Retry
	options   workflow.ActivityOptions
	rerun     bool
	kill      func(ctx context.Context, sandboxID string) error
}

// NewActivity returns the Activity named name that runs p, with activity
// options derived from p and opts as the type's documentation describes. It
// fails when name is empty, p is nil, an option is nil or invalid, or the
// derived options are inconsistent.
func NewActivity[In, Out any](name string, p tta.Primitive[In, Out], opts ...Option) (*Activity[In, Out], error) {
	if name == "" {
		return nil, errors.New("ttatemporal: NewActivity: the activity name is empty; give the name the workflow will call it by")
	}
	if p == nil {
		return nil, fmt.Errorf("ttatemporal: NewActivity %q: the primitive is nil", name)
	}
	a := &Activity[In, Out]{name: name}
	var c config
	c.options, a.p, a.retryable = derive(p)
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("ttatemporal: NewActivity %q: option %d is nil; pass options made by the With functions of this package", name, i+1)
		}
		if err := opt(&c); err != nil {
			return nil, fmt.Errorf("ttatemporal: NewActivity %q: %w", name, err)
		}
	}
	for _, edit := range c.edits {
		edit(&c.options)
	}
	o := c.options
	if o.StartToCloseTimeout == 0 && o.ScheduleToCloseTimeout == 0 {
		return nil, fmt.Errorf("ttatemporal: NewActivity %q: neither StartToCloseTimeout nor ScheduleToCloseTimeout is set; Temporal needs one", name)
	}
	if o.StartToCloseTimeout < 0 || o.ScheduleToCloseTimeout < 0 || o.HeartbeatTimeout < 0 {
		return nil, fmt.Errorf("ttatemporal: NewActivity %q: activity timeouts must be >= 0, got start-to-close %v, schedule-to-close %v, heartbeat %v",
			name, o.StartToCloseTimeout, o.ScheduleToCloseTimeout, o.HeartbeatTimeout)
	}
	a.options, a.rerun, a.kill = o, c.rerun, c.killSandbox
	return a, nil
}

// Register builds the Activity named name that runs p (see NewActivity) and
// registers it on r, a worker: one call on the activity side.
func Register[In, Out any](r worker.ActivityRegistry, name string, p tta.Primitive[In, Out], opts ...Option) (*Activity[In, Out], error) {
	a, err := NewActivity(name, p, opts...)
	if err != nil {
		return nil, err
	}
	a.Register(r)
	return a, nil
}

// derive returns the activity options p's decorators imply, the primitive
// one attempt runs, and which of its errors Temporal may retry.
func derive[In, Out any](p tta.Primitive[In, Out]) (workflow.ActivityOptions, tta.Primitive[In, Out], func(error) bool) {
	o := workflow.ActivityOptions{
		HeartbeatTimeout:    DefaultHeartbeatTimeout,
		WaitForCancellation: true,
	}
	total, inner, hasTotal := tta.TimeoutOf(p)
	if hasTotal {
		p = inner
	}
	s, inner, hasRetry := tta.RetrySettingsOf(p)
	if !hasRetry {
		if hasTotal {
			o.StartToCloseTimeout = total
		} else {
			o.StartToCloseTimeout = DefaultStartToCloseTimeout
		}
		return o, p, nil
	}
	p = inner
	if each, inner, ok := tta.TimeoutOf(p); ok {
		o.StartToCloseTimeout, p = each, inner
	}
	if hasTotal {
		o.ScheduleToCloseTimeout = total
	}
	if s.MaxElapsedTime > 0 && (o.ScheduleToCloseTimeout == 0 || s.MaxElapsedTime < o.ScheduleToCloseTimeout) {
		o.ScheduleToCloseTimeout = s.MaxElapsedTime
	}
	if o.StartToCloseTimeout == 0 && o.ScheduleToCloseTimeout == 0 {
		o.StartToCloseTimeout = DefaultStartToCloseTimeout
	}
	o.RetryPolicy = &temporal.RetryPolicy{
		InitialInterval:    max(s.InitialInterval, time.Millisecond), // Temporal reads 0 as its default of 1s
		BackoffCoefficient: max(s.Multiplier, 1),                     // Temporal refuses less than 1
		MaximumInterval:    max(s.MaxInterval, s.InitialInterval, time.Millisecond),
		MaximumAttempts:    int32(min(s.MaxAttempts, 1<<31-1)),
	}
	return o, p, s.Retryable
}

// Name returns the activity's name, under which Register registers it and
// Execute calls it.
func (a *Activity[In, Out]) Name() string { return a.name }

// Options returns the activity options Execute uses (a copy: changing it
// changes nothing).
func (a *Activity[In, Out]) Options() workflow.ActivityOptions {
	o := a.options
	if o.RetryPolicy != nil {
		rp := *o.RetryPolicy
		o.RetryPolicy = &rp
	}
	return o
}

// Register registers the activity on r, a worker, under its name.
func (a *Activity[In, Out]) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.run, activity.RegisterOptions{Name: a.name})
}

// Execute runs the activity from a workflow with in and waits for its
// result, with the activity options of Options (any set on ctx are
// replaced). An error of the primitive comes back as an *Error, which
// unwraps to the tta error it stands for (see the package documentation),
// so errors.Is and errors.As with tta's sentinels and types work as they do
// outside Temporal; other errors (a cancelled workflow, a timed-out attempt
// after the last retry) come back as Temporal returns them, wrapped in an
// *Error only where a tta sentinel matches (ErrTimeout for an activity that
// ran out of its start-to-close or schedule-to-close time).
func (a *Activity[In, Out]) Execute(ctx workflow.Context, in In) (Out, error) {
	var out Out
	ctx = workflow.WithActivityOptions(ctx, a.Options())
	err := workflow.ExecuteActivity(ctx, a.name, in).Get(ctx, &out)
	return out, FromTemporal(err)
}

// run is the activity function: one attempt.
func (a *Activity[In, Out]) run(ctx context.Context, in In) (Out, error) {
	var zero Out
	info := activity.GetInfo(ctx)
	var prev Progress
	if activity.HasHeartbeatDetails(ctx) { // an earlier attempt heartbeated
		if err := activity.GetHeartbeatDetails(ctx, &prev); err != nil {
			prev = Progress{}
		}
	}
	a.killLeftovers(ctx, prev)
	if prev.CodeStarted && !a.rerun {
		return zero, ToTemporal(&MayHaveRunError{Attempt: max(int(info.Attempt)-1, 1), SandboxIDs: prev.SandboxIDs}, false)
	}

	ctx = tta.WithWorkflow(ctx, tta.Workflow{
		ID:       info.WorkflowExecution.ID,
		RunID:    info.WorkflowExecution.RunID,
		Metadata: SandboxMetadata(info),
	})
	hb := startHeartbeats(ctx, info.HeartbeatTimeout)
	out, err := a.execute(hb, ctx, in)
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return zero, err // cancelled: Temporal reports the cancellation itself
	}
	if a.retryable == nil { // tta runs a primitive without Retry once
		return zero, toTemporal(err, tta.RetrySettings{}.Retryable(err), false)
	}
	retryable := a.retryable(err)
	return zero, toTemporal(err, retryable, retryable)
}

// execute runs one attempt of the primitive with hb in its context and
// stops hb. A panic of the primitive becomes a *tta.PanicError, marked
// Permanent: running the same input again would panic again.
func (a *Activity[In, Out]) execute(hb *heartbeats, ctx context.Context, in In) (out Out, err error) {
	defer hb.stop()
	defer func() {
		if v := recover(); v != nil {
			err = tta.Permanent(&tta.PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	return a.p.Execute(hb.context(ctx), in)
}

// killLeftovers kills the sandboxes of an earlier attempt, when the
// activity can.
func (a *Activity[In, Out]) killLeftovers(ctx context.Context, prev Progress) {
	if a.kill == nil {
		return
	}
	for _, id := range prev.SandboxIDs {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := a.kill(kctx, id); err != nil {
			activity.GetLogger(ctx).Warn("ttatemporal: could not kill a sandbox of an earlier attempt", "sandbox", id, "error", err)
		}
		cancel()
	}
}

// SandboxMetadata returns the labels an activity gives the sandboxes it
// creates, on top of tta's own (tta.workflow and tta.run carry the workflow
// ID and run ID): the activity's ID, its attempt, its type and task queue.
// A reaper finds the sandboxes of a lost worker by them.
func SandboxMetadata(info activity.Info) map[string]string {
	return map[string]string{
		"tta.temporal.activity":      info.ActivityID,
		"tta.temporal.attempt":       strconv.Itoa(int(info.Attempt)),
		"tta.temporal.activity_type": info.ActivityType.Name,
		"tta.temporal.task_queue":    info.TaskQueue,
	}
}
