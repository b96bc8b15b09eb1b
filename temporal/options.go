package ttatemporal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Defaults of the activity options NewActivity derives, where the primitive
// and the options say nothing.
const (
	// DefaultStartToCloseTimeout bounds one attempt of an activity whose
	// primitive has no Timeout of its own (Temporal requires a bound).
	DefaultStartToCloseTimeout = 10 * time.Minute
	// DefaultHeartbeatTimeout is how long Temporal waits for a heartbeat
	// before it declares the attempt's worker lost and retries elsewhere.
	// The activity heartbeats four times as often.
	DefaultHeartbeatTimeout = 30 * time.Second
)

// Option configures NewActivity and Register. Options are applied in order
// after the options derived from the primitive, so they override them; a
// nil Option is an error.
type Option func(*config) error

// config is what the options set, on top of the derived activity options.
type config struct {
	options     workflow.ActivityOptions
	edits       []func(*workflow.ActivityOptions)
	rerun       bool
	killSandbox func(ctx context.Context, id string) error
}

// WithStartToCloseTimeout bounds each attempt by d, replacing the duration
// of a Timeout inside the primitive's Retry (or of a Timeout without a
// Retry). d must be > 0.
func WithStartToCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ttatemporal: WithStartToCloseTimeout: duration must be > 0, got %v", d)
		}
		c.options.StartToCloseTimeout = d
		return nil
	}
}

// WithScheduleToCloseTimeout bounds all attempts together, retries and
// their backoff included, replacing the duration of a Timeout around the
// primitive's Retry and Retry's MaxElapsedTime. d must be > 0.
func WithScheduleToCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ttatemporal: WithScheduleToCloseTimeout: duration must be > 0, got %v", d)
		}
		c.options.ScheduleToCloseTimeout = d
		return nil
	}
}

// WithHeartbeatTimeout sets how long Temporal waits for a heartbeat before
// it declares the worker lost and schedules the next attempt, which also
// bounds how long a cancellation takes to reach the activity. The default
// is DefaultHeartbeatTimeout; d must be > 0.
func WithHeartbeatTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ttatemporal: WithHeartbeatTimeout: duration must be > 0, got %v", d)
		}
		c.options.HeartbeatTimeout = d
		return nil
	}
}

// WithRetryPolicy replaces the retry policy derived from the primitive's
// Retry. p must not be nil; errors that tta does not retry stay
// non-retryable whatever the policy says.
func WithRetryPolicy(p *temporal.RetryPolicy) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("ttatemporal: WithRetryPolicy: the policy is nil; pass a *temporal.RetryPolicy, or leave the option out to derive one from the primitive's Retry")
		}
		cp := *p
		c.options.RetryPolicy = &cp
		return nil
	}
}

// WithTaskQueue sends the activity to the task queue q instead of the
// workflow's own. q must not be empty.
func WithTaskQueue(q string) Option {
	return func(c *config) error {
		if q == "" {
			return errors.New("ttatemporal: WithTaskQueue: the task queue name is empty")
		}
		c.options.TaskQueue = q
		return nil
	}
}

// WithActivityOptions calls edit with the activity options once they are
// derived and the other options applied, for any setting the other options
// do not name. edit must not be nil.
func WithActivityOptions(edit func(*workflow.ActivityOptions)) Option {
	return func(c *config) error {
		if edit == nil {
			return errors.New("ttatemporal: WithActivityOptions: the edit function is nil")
		}
		c.edits = append(c.edits, edit)
		return nil
	}
}

// WithRerunStartedCode lets a retried attempt run code again although an
// earlier attempt, whose worker was lost, may have started running it. By
// default such an attempt fails with a non-retryable *MayHaveRunError
// instead: code may have side effects, and tta never runs it twice on its
// own. Give this option only for code that is safe to run twice.
func WithRerunStartedCode() Option {
	return func(c *config) error {
		c.rerun = true
		return nil
	}
}

// WithSandboxKiller gives the activity a way to kill a sandbox by its ID,
// such as E2BKiller. A retried attempt uses it first to kill the sandboxes
// an earlier attempt's lost worker left behind (known from its last
// heartbeat); without it they live until their own timeout or until a
// reaper finds them by their labels (see SandboxMetadata). kill must not be
// nil.
func WithSandboxKiller(kill func(ctx context.Context, sandboxID string) error) Option {
	return func(c *config) error {
		if kill == nil {
			return errors.New("ttatemporal: WithSandboxKiller: the kill function is nil")
		}
		c.killSandbox = kill
		return nil
	}
}
