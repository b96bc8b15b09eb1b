package tta

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Parallel runs every primitive in ps concurrently on the same input and
// returns their outputs in the order of ps, with errgroup semantics:
//
//   - Each branch gets a context derived from the caller's. It is cancelled,
//     with the failing branch's error as its cause, the first time a branch
//     fails, and always before Execute returns.
//   - The first error is returned unchanged, with a nil slice; errors that
//     other branches return after it (typically their context's cancellation)
//     are discarded, and so are the outputs of branches that succeeded.
//   - A panic in a branch is recovered and becomes a *PanicError, which counts
//     as that branch's error. A branch that calls runtime.Goexit (as
//     t.FailNow does) fails the call too.
//   - Branches that have not started when the context is done are not started;
//     if no branch failed, the caller's context.Cause(ctx) is returned.
//   - Execute returns only after every started branch has returned: no
//     goroutine outlives the call.
//
// Every branch receives the same In value. If In is a pointer, map or slice,
// the branches share what it refers to and must not mutate it without their own
// synchronisation.
//
// An empty Parallel returns an empty, non-nil slice. Parallel starts one
// goroutine per branch per call (use ParallelLimit to bound them); the overhead
// is about half a microsecond per branch, a little less than errgroup's.
// Parallel panics if any element of ps is nil.
func Parallel[In, Out any](ps ...Primitive[In, Out]) Primitive[In, []Out] {
	return newParallel("Parallel", 0, ps)
}

// ParallelLimit is Parallel with at most limit branches running at any one
// time: it starts min(limit, len(ps)) goroutines, each of which runs branches in
// the order of ps until none is left. A limit of len(ps) or more is the same as
// Parallel. ParallelLimit panics if limit < 1 or any element of ps is nil.
func ParallelLimit[In, Out any](limit int, ps ...Primitive[In, Out]) Primitive[In, []Out] {
	if limit < 1 {
		misuse("ParallelLimit", "limit must be >= 1, got %d; use Parallel for no limit", limit)
	}
	return newParallel("ParallelLimit", limit, ps)
}

func newParallel[In, Out any](where string, limit int, ps []Primitive[In, Out]) parallel[In, Out] {
	for i, p := range ps {
		mustNotBeNil(where, ordinal(i)+" primitive", p)
	}
	workers := len(ps)
	if limit > 0 && limit < workers {
		workers = limit
	}
	return parallel[In, Out]{ps: append([]Primitive[In, Out](nil), ps...), workers: workers}
}

type parallel[In, Out any] struct {
	ps      []Primitive[In, Out]
	workers int // goroutines per call: min(limit, len(ps))
}

func (p parallel[In, Out]) Execute(ctx context.Context, in In) (_ []Out, err error) {
	ctx, o := observe(ctx, spanParallel)
	defer o.end(ctx, &err)
	outs := make([]Out, len(p.ps))
	if len(p.ps) == 0 {
		return outs, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		wg       sync.WaitGroup
		next     atomic.Int64 // index of the next branch to start
		errOnce  sync.Once
		firstErr error // written once under errOnce, read after wg.Wait
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel(err)
		})
	}
	worker := func() {
		returned := false
		defer func() {
			if !returned {
				// Only runtime.Goexit gets here: run recovers panics.
				fail(errParallelGoexit)
			}
			wg.Done()
		}()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(p.ps) {
				break
			}
			if ctx.Err() != nil {
				// Either a branch failed (fail already ran and this is a no-op)
				// or the caller's context is done: report it, since branch i
				// and those after it will never run.
				fail(context.Cause(ctx))
				break
			}
			out, err := executeRecovering(ctx, p.ps[i], in)
			if err != nil {
				fail(err)
				break
			}
			outs[i] = out
		}
		returned = true
	}

	wg.Add(p.workers)
	for range p.workers {
		go worker()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return outs, nil
}

// errParallelGoexit is the error of a Parallel branch that called runtime.Goexit (as
// t.FailNow does) instead of returning.
var errParallelGoexit = errors.New("tta: Parallel: a branch called runtime.Goexit instead of returning")

// executeRecovering calls p.Execute, turning a panic into a *PanicError.
func executeRecovering[In, Out any](ctx context.Context, p Primitive[In, Out], in In) (out Out, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return p.Execute(ctx, in)
}
