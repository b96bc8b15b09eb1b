package tta

import "context"

// Primitive is one step of a workflow: it turns an In into an Out.
//
// Every composition and decorator in this package takes Primitives and returns a
// Primitive, so they nest freely: Timeout(Retry(Fallback(p, q)), d) is itself a
// Primitive. Implementations must honour ctx: when it is done, Execute should
// return promptly with an error that wraps ctx.Err() or context.Cause(ctx).
//
// Unless its documentation says otherwise, every Primitive in this package is
// immutable after construction and safe for concurrent use by multiple goroutines.
type Primitive[In, Out any] interface {
	// Execute runs the step on in and returns its output, or an error.
	Execute(ctx context.Context, in In) (Out, error)
}

// Func adapts an ordinary function to a Primitive, as http.HandlerFunc adapts a
// function to an http.Handler. A nil Func is rejected by every constructor in
// this package.
type Func[In, Out any] func(ctx context.Context, in In) (Out, error)

// Execute calls f(ctx, in).
func (f Func[In, Out]) Execute(ctx context.Context, in In) (Out, error) {
	return f(ctx, in)
}

// Then composes a and b: the output of a is the input of b. If a fails, b is not
// called and a's error is returned unchanged. Then panics if a or b is nil.
func Then[A, B, C any](a Primitive[A, B], b Primitive[B, C]) Primitive[A, C] {
	mustNotBeNil("Then", "first primitive", a)
	mustNotBeNil("Then", "second primitive", b)
	return then[A, B, C]{a, b}
}

type then[A, B, C any] struct {
	a Primitive[A, B]
	b Primitive[B, C]
}

func (t then[A, B, C]) Execute(ctx context.Context, in A) (_ C, err error) {
	ctx, o := observe(ctx, spanThen)
	defer o.end(ctx, &err)
	mid, err := t.a.Execute(ctx, in)
	if err != nil {
		var zero C
		return zero, err
	}
	return t.b.Execute(ctx, mid)
}

// Sequence runs ps in order, feeding each one's output to the next. The first
// error stops the sequence and is returned with the zero T. An empty Sequence
// returns its input unchanged. Sequence panics if any element is nil.
func Sequence[T any](ps ...Primitive[T, T]) Primitive[T, T] {
	for i, p := range ps {
		mustNotBeNil("Sequence", ordinal(i)+" primitive", p)
	}
	return sequence[T](append([]Primitive[T, T](nil), ps...))
}

type sequence[T any] []Primitive[T, T]

func (s sequence[T]) Execute(ctx context.Context, in T) (_ T, err error) {
	ctx, o := observe(ctx, spanSequence)
	defer o.end(ctx, &err)
	cur := in
	for _, p := range s {
		out, err := p.Execute(ctx, cur)
		if err != nil {
			var zero T
			return zero, err
		}
		cur = out
	}
	return cur, nil
}
