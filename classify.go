package tta

import (
	"errors"
	"time"
)

// An error says whether trying again can help through the methods of the
// interfaces below, anywhere in its chain (errors.As finds them). Retry reads
// them; the errors of package e2b, of package ttatest and of this package
// implement them; a Provider of your own returns errors that do (see
// Provider). In each case the outermost error in the chain that implements
// the interface decides.

// TransientError is an error that says whether the operation that failed may
// succeed if tried again: true for a refused connection, a port not open yet,
// a rate limit or a 502/503/504; false for what will fail again (unauthorized,
// an unknown template, code that raised). Retry retries an error whose
// outermost TransientError reports true, and not one that reports false.
type TransientError interface {
	error
	Transient() bool
}

// RetryAfterError is an error that says how long to wait before trying again:
// a server's Retry-After, a circuit breaker's time until half-open. Retry
// waits that long, instead of its backoff delay, when it is more than zero.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// NotStartedError is an error of Sandbox.RunCode that says whether the code
// certainly did not start: NotStarted true proves that the request did
// nothing (the sandbox was gone before it reached it), so a stateless call may
// try again in a fresh sandbox. Without it, a run that failed with a terminal
// error counts as one that may have started. To ask the same of an error of
// CodeExecutionPrimitive or Session, use CodeNotStarted.
type NotStartedError interface {
	error
	NotStarted() bool
}

// IsTransient reports whether the outermost TransientError in err's chain
// reports true. An error without one, nil included, is not transient. An
// error marked by Permanent is never transient.
func IsTransient(err error) bool {
	t, ok := errors.AsType[TransientError](err)
	return ok && t.Transient()
}

// RetryAfter returns the delay the outermost RetryAfterError in err's chain
// asks for, or 0 when there is none (nil included).
func RetryAfter(err error) time.Duration {
	if ra, ok := errors.AsType[RetryAfterError](err); ok {
		return ra.RetryAfter()
	}
	return 0
}
