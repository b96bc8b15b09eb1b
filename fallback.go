package tta

import (
	"context"
	"fmt"
	"strings"
)

// Fallback runs p and, if it fails, each alternative in alts in order, until
// one succeeds; the first success is returned and later alternatives are not
// run. Every one of them receives the caller's ctx and the same input.
//
// If all fail, Fallback returns a *FallbackError holding each error in order,
// which matches every one of them with errors.Is and errors.As. If the caller's
// context is done after a failure, Fallback does not try the next alternative:
// it returns at once a *FallbackError whose Stopped field is context.Cause(ctx)
// (so the error also matches context.Canceled or context.DeadlineExceeded)
// along with the errors so far. p itself is always called.
//
// A primitive that implements fmt.Stringer is named by its String method in
// error messages: "alternative 1 (pip install): ..." rather than
// "alternative 1: ...".
//
// With no alternatives, Fallback returns p unchanged. Fallback panics if p or
// any alternative is nil.
func Fallback[In, Out any](p Primitive[In, Out], alts ...Primitive[In, Out]) Primitive[In, Out] {
	return newFallback("Fallback", nil, p, alts)
}

// FallbackIf is Fallback that moves on from a failure only when next reports
// true for its error. When next reports false, FallbackIf returns that
// primitive's output and error unchanged, without trying the alternatives
// left: use it for failures after
// which no alternative should run, such as code that may have started
// (side effects would happen twice):
//
//	flow := tta.FallbackIf(tta.CodeNotStarted, custom, install)
//
// next is called in the caller's goroutine, once per failure but the last.
// With no alternatives, FallbackIf returns p unchanged. FallbackIf panics if
// next, p or any alternative is nil.
func FallbackIf[In, Out any](next func(err error) bool, p Primitive[In, Out], alts ...Primitive[In, Out]) Primitive[In, Out] {
	if next == nil {
		misuse("FallbackIf", "next is nil; pass a function that says which errors to fall back on, or use Fallback for all")
	}
	return newFallback("FallbackIf", next, p, alts)
}

func newFallback[In, Out any](name string, next func(error) bool, p Primitive[In, Out], alts []Primitive[In, Out]) Primitive[In, Out] {
	mustNotBeNil(name, "primary primitive", p)
	for i, a := range alts {
		mustNotBeNil(name, fmt.Sprintf("alternative %d", i+1), a)
	}
	if len(alts) == 0 {
		return p
	}
	return &fallback[In, Out]{ps: append([]Primitive[In, Out]{p}, alts...), next: next}
}

// fallback holds the primary at index 0 and alternative i at index i.
type fallback[In, Out any] struct {
	ps   []Primitive[In, Out]
	next func(error) bool // nil: move on after every failure
}

func (f *fallback[In, Out]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanFallback)
	defer o.end(ctx, &err)
	var errs []error
	for i, p := range f.ps {
		if i > 0 && ctx.Err() != nil {
			var zero Out
			return zero, &FallbackError{Errs: errs, Total: len(f.ps), Stopped: context.Cause(ctx), names: f.names(i)}
		}
		out, err := p.Execute(ctx, in)
		if err == nil {
			return out, nil
		}
		if f.next != nil && i < len(f.ps)-1 && !f.next(err) {
			return out, err
		}
		errs = append(errs, err)
		if i < len(f.ps)-1 {
			o.fellBack(ctx, i, err)
		}
	}
	var zero Out
	return zero, &FallbackError{Errs: errs, Total: len(f.ps), names: f.names(len(f.ps))}
}

// names returns the String of each of the first n primitives that implements
// fmt.Stringer ("" for the others), or nil when none does.
func (f *fallback[In, Out]) names(n int) []string {
	var names []string
	for i, p := range f.ps[:n] {
		s, ok := p.(fmt.Stringer)
		if !ok {
			continue
		}
		if names == nil {
			names = make([]string, n)
		}
		names[i] = s.String()
	}
	return names
}

// FallbackError is returned by Fallback when no alternative succeeded: either
// all failed, or the caller's context ended before the remaining ones were
// tried.
//
// Its message says which alternative failed how, in order (the primary counts
// as the first alternative):
//
//	tta: all 3 alternatives failed: primary: boom; alternative 1: bang; alternative 2: bust
//	tta: fallback stopped after 1 of 3 alternatives: context canceled; primary: boom
//
// Unwrap returns Errs followed by Stopped (when set), so errors.Is and errors.As
// see every cause, as with errors.Join.
//
// A FallbackError is not modified after it is returned and is safe to read from
// multiple goroutines.
type FallbackError struct {
	// Errs holds the error of each primitive tried, in order: Errs[0] is the
	// primary's, Errs[i] alternative i's.
	Errs []error
	// Total is the number of primitives configured: the primary plus the
	// alternatives. It equals len(Errs) unless Stopped is set.
	Total int
	// Stopped is context.Cause of the caller's context when it ended before
	// every alternative was tried, and nil otherwise.
	Stopped error

	names []string // String of the primitives behind Errs, when they have one
}

// Error lists each failure with its label; see the type's documentation.
func (e *FallbackError) Error() string {
	var b strings.Builder
	if e.Stopped != nil {
		fmt.Fprintf(&b, "tta: fallback stopped after %d of %d alternatives: %v", len(e.Errs), e.Total, e.Stopped)
	} else {
		fmt.Fprintf(&b, "tta: all %d alternatives failed", len(e.Errs))
	}
	for i, err := range e.Errs {
		sep := "; "
		if i == 0 && e.Stopped == nil {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s: %v", sep, e.label(i), err)
	}
	return b.String()
}

// label names Errs[i] in messages.
func (e *FallbackError) label(i int) string {
	l := "primary"
	if i > 0 {
		l = fmt.Sprintf("alternative %d", i)
	}
	if i < len(e.names) && e.names[i] != "" {
		l += " (" + e.names[i] + ")"
	}
	return l
}

// Unwrap returns Errs followed by Stopped when it is set.
func (e *FallbackError) Unwrap() []error {
	if e.Stopped == nil {
		return e.Errs
	}
	return append(append([]error(nil), e.Errs...), e.Stopped)
}
