package tta

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DefaultCompensateTimeout bounds a compensation whose SagaStep leaves
// CompensateTimeout at zero.
const DefaultCompensateTimeout = 30 * time.Second

// SagaStep is one step of a Saga: Do moves the state forward and Compensate,
// if set, undoes what Do did. The zero SagaStep is not valid: Saga requires
// Name and Do.
type SagaStep[T any] struct {
	// Name identifies the step in errors. It must be non-empty and unique
	// within its Saga.
	Name string
	// Do runs the step. It receives the state the previous step produced (the
	// Saga's input for the first step) and returns the state for the next.
	Do Primitive[T, T]
	// Compensate undoes a step whose Do succeeded, when a later step fails. It
	// receives the state this step's Do returned: the state it must undo. It is
	// never called for the step that failed, which must leave nothing behind,
	// nor for steps that did not run. Nil means there is nothing to undo.
	Compensate func(ctx context.Context, state T) error
	// CompensateTimeout bounds one call of Compensate. Zero means
	// DefaultCompensateTimeout (30s).
	CompensateTimeout time.Duration
}

// Saga runs steps in order, feeding each step's output to the next, and
// returns the last step's output. An empty Saga returns its input unchanged.
//
// When a step fails, the Compensate functions of the steps that completed run
// in reverse order, each with the state its own step produced (see
// SagaStep.Compensate); then Execute returns a *SagaError. Compensations run
// even if the caller's context is done: each gets a context that keeps the
// caller's values (so WorkflowFrom works) but not its cancellation, bounded by
// the step's CompensateTimeout. A compensation that fails, times out or panics
// (the panic becomes a *PanicError) does not stop the others.
//
// Steps are not started once the caller's context is done: the step that would
// have run next counts as failed, with context.Cause(ctx) as its error, and the
// completed steps are compensated.
//
// If a step's Do panics, the completed steps are compensated (their errors are
// discarded) and the panic continues unchanged. Saga does not recover it.
//
// Saga panics if a step has an empty or duplicate Name, a nil Do, or a
// negative CompensateTimeout.
func Saga[T any](steps ...SagaStep[T]) Primitive[T, T] {
	seen := make(map[string]int, len(steps))
	for i, st := range steps {
		which := ordinal(i) + " step"
		if st.Name == "" {
			misuse("Saga", "%s has an empty Name; name every step so a SagaError can say which one failed", which)
		}
		if j, dup := seen[st.Name]; dup {
			misuse("Saga", "%s has the Name %q of the %s step; step names must be unique", which, st.Name, ordinal(j))
		}
		seen[st.Name] = i
		mustNotBeNil("Saga", fmt.Sprintf("Do of step %q", st.Name), st.Do)
		if st.CompensateTimeout < 0 {
			misuse("Saga", "CompensateTimeout of step %q is %v; it must be >= 0 (0 means %v)", st.Name, st.CompensateTimeout, DefaultCompensateTimeout)
		}
	}
	return saga[T](append([]SagaStep[T](nil), steps...))
}

type saga[T any] []SagaStep[T]

func (s saga[T]) Execute(ctx context.Context, in T) (_ T, err error) {
	ctx, o := observe(ctx, spanSaga)
	defer o.end(ctx, &err)
	states := make([]T, 0, len(s)) // states[i] is what s[i].Do returned
	returned := false
	defer func() {
		if !returned {
			// A Do panicked or called runtime.Goexit: undo, then let it go on.
			s.compensate(ctx, states)
		}
	}()

	cur := in
	for _, st := range s {
		var err error
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		} else {
			cur, err = st.Do.Execute(ctx, cur)
		}
		if err != nil {
			returned = true
			var zero T
			return zero, &SagaError{Step: st.Name, Err: err, Compensations: s.compensate(ctx, states)}
		}
		states = append(states, cur)
	}
	returned = true
	return cur, nil
}

// compensate runs the compensations of the steps behind states, last first,
// and returns their errors in that order.
func (s saga[T]) compensate(ctx context.Context, states []T) []error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for i := len(states) - 1; i >= 0; i-- {
		if s[i].Compensate == nil {
			continue
		}
		if err := compensateStep(ctx, s[i], states[i]); err != nil {
			errs = append(errs, &compensationError{step: s[i].Name, err: err})
		}
	}
	return errs
}

func compensateStep[T any](ctx context.Context, st SagaStep[T], state T) (err error) {
	d := st.CompensateTimeout
	if d == 0 {
		d = DefaultCompensateTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return st.Compensate(ctx, state)
}

// compensationError is a failed compensation; it names its step and unwraps to
// what Compensate returned.
type compensationError struct {
	step string
	err  error
}

func (e *compensationError) Error() string {
	return fmt.Sprintf("tta: saga: compensate %q: %v", e.step, e.err)
}

func (e *compensationError) Unwrap() error { return e.err }

// SagaError is returned by Saga when a step failed. It says which step failed
// and why, and how the compensations went:
//
//	tta: saga step "charge" failed: card declined
//	tta: saga step "charge" failed: card declined; compensate "reserve": timeout
//
// Unwrap returns Err followed by Compensations, so errors.Is and errors.As see
// the step's error and every compensation's.
//
// A SagaError is not modified after it is returned and is safe to read from
// multiple goroutines.
type SagaError struct {
	// Step is the Name of the step that failed (or that was not started
	// because the caller's context was done).
	Step string
	// Err is the error of that step.
	Err error
	// Compensations holds one error per compensation that failed, in the order
	// they ran (reverse step order). Each names its step in its message and
	// unwraps to what Compensate returned (a *PanicError if it panicked). It is
	// empty when every compensation succeeded.
	Compensations []error
}

// Error reports the failed step and every failed compensation.
func (e *SagaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tta: saga step %q failed: %v", e.Step, e.Err)
	for _, err := range e.Compensations {
		if ce, ok := err.(*compensationError); ok {
			fmt.Fprintf(&b, "; compensate %q: %v", ce.step, ce.err)
		} else {
			fmt.Fprintf(&b, "; %v", err)
		}
	}
	return b.String()
}

// Unwrap returns Err followed by Compensations.
func (e *SagaError) Unwrap() []error {
	return append([]error{e.Err}, e.Compensations...)
}
