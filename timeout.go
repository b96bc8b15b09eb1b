package tta

import (
	"context"
	"errors"
	"time"
)

// Timeout returns a Primitive that bounds each call of p by d: p is called with
// a context derived from the caller's whose deadline is d from the start of the
// call (or the caller's own deadline, if earlier). The derived context is always
// cancelled before Execute returns.
//
// Timeout starts no goroutine: p runs in the caller's goroutine and Timeout
// returns when p returns. p must therefore honour its context; a p that ignores
// it is not interrupted and runs to completion, however long that takes.
//
// What Execute returns:
//   - When p succeeds, its result, even if the deadline passed just after.
//   - When Timeout's own deadline ended the context first, an error that matches
//     both ErrTimeout and context.DeadlineExceeded with errors.Is and whose
//     message names d ("tta: timeout after 2s"). It wraps p's error when that
//     error says more than the deadline did ("tta: timeout after 2s: <p's error>").
//   - When the caller's context ended first (cancelled, or its own earlier
//     deadline), p's error unchanged: it does not match ErrTimeout, so the
//     caller can tell its own cancellation from this timeout.
//   - When p fails before any deadline, p's error unchanged. There is one
//     exception: a retry inside p that gave up early because its next delay
//     would pass this Timeout's deadline (and not an earlier one of the caller)
//     has timed out all the same. Its error, an EarlyTimeoutError reporting
//     that deadline (Retry's *RetryError is one), comes wrapped in the
//     ErrTimeout error described above.
//
// Out is always what p returned. Inside p, context.Cause(ctx) reports the same
// ErrTimeout error once the deadline has passed.
//
// Compose Retry(Timeout(p, d)) to bound each attempt, Timeout(Retry(p), d) to
// bound all attempts together. On the success path Timeout costs what
// context.WithTimeout and its cancel cost, and allocates nothing more.
//
// Timeout panics if p is nil or d <= 0. The returned Primitive is immutable and
// safe for concurrent use.
func Timeout[In, Out any](p Primitive[In, Out], d time.Duration) Primitive[In, Out] {
	mustNotBeNil("Timeout", "primitive", p)
	if d <= 0 {
		misuse("Timeout", "duration must be > 0, got %v; to run without a time limit, leave the primitive unwrapped", d)
	}
	return &timeout[In, Out]{p: p, d: d, expired: &timeoutError{d: d}}
}

type timeout[In, Out any] struct {
	p Primitive[In, Out]
	d time.Duration
	// expired is the cause given to every derived context, so that an expiry
	// of this Timeout is recognised by identity. It is never modified.
	expired *timeoutError
}

func (t *timeout[In, Out]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanTimeout)
	defer o.end(ctx, &err)
	if o.recording() {
		o.set(attrTimeout.Float64(t.d.Seconds()))
	}
	deadline := time.Now().Add(t.d)
	tctx, cancel := context.WithDeadlineCause(ctx, deadline, t.expired)
	defer cancel()
	out, err := t.p.Execute(tctx, in)
	if err != nil {
		err = t.explain(ctx, tctx, deadline, err)
	}
	return out, err
}

// explain decides, for an error p returned, whether it is this Timeout's
// timeout, as documented on Timeout.
func (t *timeout[In, Out]) explain(ctx, tctx context.Context, deadline time.Time, err error) error {
	switch cause := context.Cause(tctx); {
	case cause == error(t.expired): // this deadline ended tctx, before the caller's context ended
		if err == cause || err == context.DeadlineExceeded {
			return t.expired
		}
		if errors.Is(err, t.expired) { // already says which deadline passed
			return err
		}
		return &timeoutError{d: t.d, err: err}
	case cause != nil: // the caller's context ended first
		return err
	}
	if et, ok := errors.AsType[EarlyTimeoutError](err); ok {
		if dl, early := et.EarlyTimeout(); early && dl.Equal(deadline) {
			if own, ok := ctx.Deadline(); !ok || own.After(deadline) {
				return &timeoutError{d: t.d, err: err}
			}
		}
	}
	return err
}

// EarlyTimeoutError is an error of work that gave up before a context
// deadline passed because what it would do next could not end before it: a
// retry whose next delay would end at or after the deadline. The deadline
// stopped the work as surely as if it had passed, so Timeout reports such an
// error, when the deadline is its own, as its timeout. Retry's *RetryError is
// one; a retry of your own gets the same treatment by implementing it.
type EarlyTimeoutError interface {
	error
	// EarlyTimeout returns the deadline that left no room and true, or false
	// when the error did not give up for a deadline.
	EarlyTimeout() (deadline time.Time, ok bool)
}

// timeoutError is the error of a Timeout whose deadline passed. It matches
// ErrTimeout and context.DeadlineExceeded and unwraps to the error p returned,
// if that error was kept.
type timeoutError struct {
	d   time.Duration
	err error // p's error, or nil
}

func (e *timeoutError) Error() string {
	msg := "tta: timeout after " + e.d.String()
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func (e *timeoutError) Unwrap() error { return e.err }
