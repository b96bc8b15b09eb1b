package tta

import "errors"

// Sentinel errors. Each is matched with errors.Is; the errors actually returned
// usually wrap them with more detail (which primitive, how long, how many tries).
var (
	// ErrTimeout is returned by Timeout when its own deadline expired before the
	// wrapped primitive finished. The returned error also matches
	// context.DeadlineExceeded, but not when the caller's context ended first.
	ErrTimeout = errors.New("tta: timeout")

	// ErrCircuitOpen is returned by CircuitBreaker while the circuit is open (or
	// half-open with its trial calls in flight): the call was not attempted.
	ErrCircuitOpen = errors.New("tta: circuit open")

	// ErrBulkheadFull is returned by Bulkhead when a call could not get a slot:
	// the wait queue was full, or the wait timeout passed.
	ErrBulkheadFull = errors.New("tta: bulkhead full")

	// ErrNoRoute is returned by Router when no route matches the input and no
	// default was given.
	ErrNoRoute = errors.New("tta: no route")
)
