package tta

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Retry returns a Primitive that calls p again when it fails with a transient
// error, waiting between attempts with exponential backoff.
//
// With no options Retry makes at most 3 attempts, waiting about 100ms and then
// about 200ms (each delay doubles, is capped at 10s and is randomised by ±50%).
// The options MaxAttempts, RetryForever, InitialInterval, MaxInterval,
// Multiplier, Jitter and MaxElapsedTime change that schedule; the delays are
// computed by backoff.ExponentialBackOff from github.com/cenkalti/backoff/v4.
//
// Which errors are retried:
//   - An error made by Permanent (anywhere in the chain) is never retried. It is
//     returned unchanged, still marked permanent, so an enclosing Retry stops too;
//     errors.Is and errors.As reach the error it wraps.
//   - Otherwise, when RetryIf was given, its function alone decides.
//   - Otherwise, when an error in the chain is a TransientError (has a method
//     Transient() bool), the outermost such error decides: false means not
//     retried.
//   - Everything else is retried.
//
// An error that is not retried is returned unchanged, not wrapped in a
// *RetryError: no retry limit was reached. When the outermost RetryAfterError
// in the chain (a method RetryAfter() time.Duration) asks for more than zero
// (a server's Retry-After, a circuit breaker's time until half-open), that
// delay replaces the backoff schedule's.
//
// Retry never sleeps past the context's deadline and never starts an attempt
// once ctx is done, including the first one. It returns a *RetryError, which
// unwraps to the last attempt's error, when:
//   - the attempts are used up (MaxAttempts);
//   - the next delay would end at or after ctx's deadline: Retry stops at once
//     rather than sleep in vain, and the error also matches
//     context.DeadlineExceeded although ctx is not done yet;
//   - the next attempt would start more than MaxElapsedTime after the call began;
//   - ctx is done (before an attempt, during one, or while sleeping): the error
//     then also matches ctx.Err() and context.Cause(ctx). Attempts is 0 when ctx
//     was done before the first attempt.
//
// On error, the Out returned is the one the last attempt returned (the zero Out
// when no attempt ran), so partial results pass through.
//
// Composition decides what a time limit bounds: Retry(Timeout(p, d)) bounds each
// attempt by d and retries attempts that time out; Timeout(Retry(p), d) bounds
// all attempts together, backoff sleeps included. Attempts run one after another
// in the caller's goroutine; Retry starts no goroutine.
//
// When the first attempt succeeds, Retry adds about the cost of one time.Now
// call and allocates nothing: the backoff state is built only after a failure.
// Retry panics if p or an option is nil, or if InitialInterval exceeds
// MaxInterval; the options themselves panic on out-of-range values.
//
// The returned Primitive is immutable and safe for concurrent use; the RetryIf
// and OnRetry functions may be called concurrently by concurrent calls.
func Retry[In, Out any](p Primitive[In, Out], opts ...RetryOption) Primitive[In, Out] {
	mustNotBeNil("Retry", "primitive", p)
	cfg := retryConfig{
		maxAttempts: 3,
		initial:     100 * time.Millisecond,
		maxInterval: 10 * time.Second,
		multiplier:  2,
		jitter:      0.5,
	}
	for i, opt := range opts {
		if opt == nil {
			misuse("Retry", "the %s option is nil; pass options made by MaxAttempts, InitialInterval, RetryIf and the like", ordinal(i))
		}
		opt(&cfg)
	}
	if cfg.initial > cfg.maxInterval {
		misuse("Retry", "InitialInterval %v exceeds MaxInterval %v; raise MaxInterval or lower InitialInterval", cfg.initial, cfg.maxInterval)
	}
	return &retry[In, Out]{p: p, cfg: cfg}
}

// RetryOption configures Retry. Options are applied in order; when two set the
// same thing (MaxAttempts and RetryForever included), the last one wins. A
// RetryOption is immutable and may be shared by any number of Retry calls.
type RetryOption func(*retryConfig)

// MaxAttempts limits the number of attempts, the first one included: n = 1
// means no retry. The default is 3. MaxAttempts panics if n < 1.
func MaxAttempts(n int) RetryOption {
	if n < 1 {
		misuse("Retry", "MaxAttempts must be >= 1, got %d; use RetryForever() for no attempt limit", n)
	}
	return func(c *retryConfig) { c.maxAttempts = n }
}

// RetryForever removes the attempt limit: Retry then stops only on success, on
// an error that is not retried, at MaxElapsedTime, or when the context is done
// or its deadline is too close for another attempt. Without MaxElapsedTime, give
// the context a deadline or a cancellation.
func RetryForever() RetryOption {
	return func(c *retryConfig) { c.maxAttempts = 0 }
}

// InitialInterval sets the delay before the second attempt, before jitter. The
// default is 100ms; 0 retries at once, every time (0 multiplied stays 0).
// InitialInterval panics if d < 0.
func InitialInterval(d time.Duration) RetryOption {
	if d < 0 {
		misuse("Retry", "InitialInterval must be >= 0, got %v; use 0 to retry without waiting", d)
	}
	return func(c *retryConfig) { c.initial = d }
}

// MaxInterval caps the delay between attempts, before jitter: with Jitter(0.5)
// a delay can reach 1.5 times MaxInterval. The default is 10s. MaxInterval
// panics if d < 0; Retry panics if it is below InitialInterval.
func MaxInterval(d time.Duration) RetryOption {
	if d < 0 {
		misuse("Retry", "MaxInterval must be >= 0, got %v", d)
	}
	return func(c *retryConfig) { c.maxInterval = d }
}

// Multiplier sets the factor by which the delay grows after each retry. The
// default is 2; 1 keeps the delay constant. Multiplier panics if f is below 1,
// infinite or NaN.
func Multiplier(f float64) RetryOption {
	if !(f >= 1) || math.IsInf(f, 1) {
		misuse("Retry", "Multiplier must be a finite number >= 1, got %v; use 1 for a constant interval", f)
	}
	return func(c *retryConfig) { c.multiplier = f }
}

// Jitter sets the randomization factor f: each delay is drawn uniformly from
// [(1-f)·interval, (1+f)·interval], so that many clients failing together do not
// retry together. The default is 0.5; 0 makes the delays exact. Jitter panics if
// f is outside [0, 1] or NaN.
func Jitter(f float64) RetryOption {
	if !(f >= 0 && f <= 1) {
		misuse("Retry", "Jitter must be between 0 and 1, got %v; use 0 for exact intervals", f)
	}
	return func(c *retryConfig) { c.jitter = f }
}

// MaxElapsedTime bounds how late an attempt may start: Retry gives up, without
// sleeping, when the next attempt would start more than d after the call began.
// An attempt in progress is not interrupted; to bound the whole call, wrap it:
// Timeout(Retry(p), d). The default is 0, no limit. MaxElapsedTime panics if
// d < 0.
func MaxElapsedTime(d time.Duration) RetryOption {
	if d < 0 {
		misuse("Retry", "MaxElapsedTime must be >= 0, got %v; use 0 for no limit", d)
	}
	return func(c *retryConfig) { c.maxElapsed = d }
}

// FinalAttemptBeforeDeadline makes Retry use its context's deadline to the
// end: when the next backoff delay would end at or after the deadline, Retry
// makes one last attempt margin before the deadline instead of giving up at
// once, provided that moment is still ahead. It does so once per call; after
// that attempt the usual rule applies and Retry gives up. Without this option
// a wait of 0.5 s doubling to 5 s inside a 120 s window makes its last attempt
// at 117.5 s, and whatever becomes ready after that is never seen.
//
// The margin is the time the last attempt needs to finish. It has no effect
// without a deadline, and MaxElapsedTime and MaxAttempts still apply.
// FinalAttemptBeforeDeadline panics if margin <= 0.
func FinalAttemptBeforeDeadline(margin time.Duration) RetryOption {
	if margin <= 0 {
		misuse("Retry", "FinalAttemptBeforeDeadline margin must be > 0, got %v; it is the time the last attempt needs", margin)
	}
	return func(c *retryConfig) { c.finalMargin = margin }
}

// RetryIf replaces the default classification: f(err) reports whether err, the
// error of an attempt, may be retried. Errors made by Permanent are still never
// retried and f is not asked about them. RetryIf panics if f is nil.
func RetryIf(f func(err error) bool) RetryOption {
	if f == nil {
		misuse("Retry", "RetryIf func is nil; omit the option to keep the default classification")
	}
	return func(c *retryConfig) { c.retryIf = f }
}

// OnRetry registers f, called after an attempt failed and a retry was decided,
// just before sleeping. It runs in the caller's goroutine and delays the retry
// by the time it takes. OnRetry panics if f is nil.
func OnRetry(f func(RetryEvent)) RetryOption {
	if f == nil {
		misuse("Retry", "OnRetry func is nil; omit the option to run without a hook")
	}
	return func(c *retryConfig) { c.onRetry = f }
}

// RetryEvent describes a retry about to happen, for OnRetry. It is a plain
// value: safe to copy, keep and share.
type RetryEvent struct {
	// Attempt is the number of the attempt that failed, starting at 1.
	Attempt int
	// Err is the error that attempt returned.
	Err error
	// Delay is how long Retry sleeps before the next attempt.
	Delay time.Duration
}

// Permanent marks err as not worth retrying: Retry returns it at once, whatever
// RetryIf says. The result unwraps to err, so errors.Is and errors.As see
// through it, and its message is err's. It still marks the error when wrapped
// further (fmt.Errorf("...: %w", Permanent(err))), and Retry returns it
// unchanged, so every enclosing Retry stops as well. Permanent(nil) is nil and
// marking an error twice changes nothing.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*permanentError); ok {
		return err
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Transient reports false: a permanent error is not transient.
func (e *permanentError) Transient() bool { return false }

// RetryError is returned by Retry when it stops retrying an error that could
// have been retried: the attempts were used up, MaxElapsedTime or the context's
// deadline left no room for another attempt, or the context was done. Its
// message reads like "tta: retry: gave up after 3 attempts in 1.2s: <last
// error>", with the reason in parentheses when it is not the attempt limit.
//
// Unwrap returns Last. When the context's deadline stopped Retry, the error also
// matches context.DeadlineExceeded; when the context was done, it also matches
// ctx.Err() and context.Cause(ctx) with errors.Is (and the cause with errors.As).
//
// A RetryError is not modified after Retry returns it and may be shared between
// goroutines.
type RetryError struct {
	// Attempts is how many attempts ran: 0 if the context was done before the
	// first one.
	Attempts int
	// Elapsed is the time from the start of the call until Retry gave up,
	// attempts and sleeps included.
	Elapsed time.Duration
	// Last is the error of the last attempt; context.Cause(ctx) when no attempt
	// ran.
	Last error

	stop      retryStop
	ctxErr    error         // context.DeadlineExceeded or ctx.Err(), matched by Is
	cause     error         // context.Cause(ctx) when ctx was done
	nextDelay time.Duration // the delay that did not fit
	room      time.Duration // MaxElapsedTime, or the time left before the deadline
	deadline  time.Time     // the deadline that left no room
}

type retryStop uint8

const (
	stopAttempts     retryStop = iota // MaxAttempts used up
	stopMaxElapsed                    // next attempt would start after MaxElapsedTime
	stopDeadline                      // next delay would end after ctx's deadline
	stopDone                          // ctx done
	stopNotAttempted                  // ctx done before the first attempt
)

// Error says how many attempts were made over how long, why retrying stopped
// (attempts used up, MaxElapsedTime, the context's deadline or its end) and the
// last attempt's error.
func (e *RetryError) Error() string {
	var b strings.Builder
	b.WriteString("tta: retry: ")
	if e.stop == stopNotAttempted {
		b.WriteString("not attempted: ")
		b.WriteString(errString(e.Last))
		return b.String()
	}
	if e.stop == stopDone {
		b.WriteString("stopped after ")
	} else {
		b.WriteString("gave up after ")
	}
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt in ")
	} else {
		b.WriteString(" attempts in ")
	}
	b.WriteString(roundDuration(e.Elapsed).String())
	switch e.stop {
	case stopMaxElapsed:
		b.WriteString(" (next delay " + roundDuration(e.nextDelay).String() +
			" would exceed MaxElapsedTime " + e.room.String() + ")")
	case stopDeadline:
		b.WriteString(" (next delay " + roundDuration(e.nextDelay).String() +
			" would pass the context deadline, " + roundDuration(e.room).String() + " away)")
	case stopDone:
		b.WriteString(" (" + errString(e.cause) + ")")
	}
	b.WriteString(": ")
	b.WriteString(errString(e.Last))
	return b.String()
}

// Unwrap returns Last.
func (e *RetryError) Unwrap() error { return e.Last }

// EarlyTimeout returns the context deadline and true when Retry stopped
// because its next delay would end at or after that deadline, and false
// otherwise; see EarlyTimeoutError, which makes Timeout report such a stop
// as its own timeout.
func (e *RetryError) EarlyTimeout() (deadline time.Time, ok bool) {
	return e.deadline, e.stop == stopDeadline
}

// Is reports whether target matches why Retry stopped: the context's error or
// cause when the context was done, context.DeadlineExceeded when its deadline
// left no room for another attempt.
func (e *RetryError) Is(target error) bool {
	return (e.ctxErr != nil && errors.Is(e.ctxErr, target)) ||
		(e.cause != nil && e.cause != e.ctxErr && errors.Is(e.cause, target))
}

// As finds the first error in the context's cause that matches target, when
// the context was done.
func (e *RetryError) As(target any) bool {
	return e.cause != nil && e.cause != e.ctxErr && errors.As(e.cause, target)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// roundDuration keeps messages readable: 1.234s rather than 1.234567891s.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// retryConfig is built once by Retry and only read afterwards.
type retryConfig struct {
	maxAttempts int // 0 means no limit
	initial     time.Duration
	maxInterval time.Duration
	multiplier  float64
	jitter      float64
	maxElapsed  time.Duration // 0 means no limit
	retryIf     func(error) bool
	onRetry     func(RetryEvent)
	finalMargin time.Duration // 0: give up when the next delay passes the deadline
}

type retry[In, Out any] struct {
	p   Primitive[In, Out]
	cfg retryConfig
}

func (r *retry[In, Out]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanRetry)
	defer o.end(ctx, &err)
	start := time.Now()
	if ctx.Err() != nil {
		var zero Out
		cause := context.Cause(ctx)
		return zero, &RetryError{Last: cause, stop: stopNotAttempted, ctxErr: ctx.Err(), cause: cause}
	}
	out, err := r.p.Execute(ctx, in)
	if err == nil {
		return out, nil
	}
	return r.retry(ctx, o, in, start, out, err)
}

// retry runs the attempts after the first failed one. It is kept apart from
// Execute so that a first attempt that succeeds pays for none of its state.
func (r *retry[In, Out]) retry(ctx context.Context, o observation, in In, start time.Time, out Out, err error) (Out, error) {
	c := &r.cfg
	b := backoff.ExponentialBackOff{
		InitialInterval:     c.initial,
		RandomizationFactor: c.jitter,
		Multiplier:          c.multiplier,
		MaxInterval:         c.maxInterval,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
		// MaxElapsedTime stays 0: Retry measures elapsed time from the start of
		// the call, not from the first failure.
	}
	b.Reset()
	finalTried := false // FinalAttemptBeforeDeadline's attempt was scheduled
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return out, r.done(ctx, attempt, start, err)
		}
		if !c.retryable(err) {
			return out, err
		}
		if c.maxAttempts > 0 && attempt >= c.maxAttempts {
			return out, &RetryError{Attempts: attempt, Elapsed: time.Since(start), Last: err}
		}
		delay := b.NextBackOff()
		if delay < 0 { // float overflow for intervals near the limits of time.Duration
			delay = c.maxInterval
		}
		if d := RetryAfter(err); d > 0 {
			delay = d
		}
		now := time.Now()
		elapsed := now.Sub(start)
		if c.maxElapsed > 0 && elapsed+delay > c.maxElapsed {
			return out, &RetryError{Attempts: attempt, Elapsed: elapsed, Last: err,
				stop: stopMaxElapsed, nextDelay: delay, room: c.maxElapsed}
		}
		if dl, ok := ctx.Deadline(); ok && !now.Add(delay).Before(dl) {
			final := dl.Add(-c.finalMargin)
			if c.finalMargin == 0 || finalTried || !final.After(now) {
				return out, &RetryError{Attempts: attempt, Elapsed: elapsed, Last: err,
					stop: stopDeadline, ctxErr: context.DeadlineExceeded, nextDelay: delay, room: dl.Sub(now), deadline: dl}
			}
			delay, finalTried = final.Sub(now), true
		}
		o.retried(ctx, attempt, delay, err)
		if c.onRetry != nil {
			c.onRetry(RetryEvent{Attempt: attempt, Err: err, Delay: delay})
		}
		if !sleepCtx(ctx, delay) {
			return out, r.done(ctx, attempt, start, err)
		}
		out, err = r.p.Execute(ctx, in)
		if err == nil {
			return out, nil
		}
	}
}

// done builds the error for a context that is done after attempts attempts.
func (r *retry[In, Out]) done(ctx context.Context, attempts int, start time.Time, last error) error {
	return &RetryError{Attempts: attempts, Elapsed: time.Since(start), Last: last,
		stop: stopDone, ctxErr: ctx.Err(), cause: context.Cause(ctx)}
}

// retryable classifies err as documented on Retry.
func (c *retryConfig) retryable(err error) bool {
	if _, ok := errors.AsType[*permanentError](err); ok {
		return false
	}
	if c.retryIf != nil {
		return c.retryIf(err)
	}
	if t, ok := errors.AsType[TransientError](err); ok {
		return t.Transient()
	}
	return true
}

// sleepCtx waits for d or until ctx is done, and reports whether ctx is still
// live afterwards.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return ctx.Err() == nil
}
