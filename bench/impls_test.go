package bench

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"golang.org/x/sync/errgroup"

	"github.com/tta-dev/tta"
)

// The configurations below are the same in every implementation of a case:
// 3 attempts, exponential backoff from 100ms doubling up to 10s with ±50%
// jitter (or no delay at all where a case says so), a breaker that opens after
// 5 consecutive failures for 30s and closes after 1 successful trial, a 1s
// timeout. Each library is used the cheapest way that is correct for
// concurrent callers: policies and executors are built once, outside the
// measured loop; only backoff's ExponentialBackOff, which is stateful, is built
// per call.
const (
	attempts       = 3
	initialDelay   = 100 * time.Millisecond
	maxDelay       = 10 * time.Second
	delayFactor    = 2
	jitter         = 0.5
	breakerFails   = 5
	breakerOpenFor = 30 * time.Second
	timeLimit      = time.Second
)

var errTransient = errors.New("transient failure")

// op is the operation every case wraps: trivial, so that what is measured is
// the wrapper.
func op(_ context.Context, in int) (int, error) { return in + 1, nil }

// alt is the fallback's alternative; the happy path never calls it.
func alt(_ context.Context, _ int) (int, error) { return 0, nil }

// flaky fails every other call, starting with the first: wrapped in a retry,
// each call fails once and then succeeds. It is not safe for concurrent use.
type flaky struct{ calls int }

func (f *flaky) call(_ context.Context, in int) (int, error) {
	f.calls++
	if f.calls%2 == 1 {
		return 0, errTransient
	}
	return in + 1, nil
}

// tta

func ttaRetry(p tta.Primitive[int, int]) tta.Primitive[int, int] {
	return tta.Retry(p, tta.MaxAttempts(attempts), tta.InitialInterval(initialDelay),
		tta.MaxInterval(maxDelay), tta.Multiplier(delayFactor), tta.Jitter(jitter))
}

func ttaRetryNoDelay(p tta.Primitive[int, int]) tta.Primitive[int, int] {
	return tta.Retry(p, tta.MaxAttempts(attempts), tta.InitialInterval(0), tta.Jitter(0))
}

func ttaTimeout(p tta.Primitive[int, int]) tta.Primitive[int, int] {
	return tta.Timeout(p, timeLimit)
}

// ttaChain4 is Fallback(Retry(CircuitBreaker(Timeout(op)))).
func ttaChain4() tta.Primitive[int, int] {
	inner := tta.CircuitBreaker(ttaTimeout(tta.Func[int, int](op)),
		tta.FailureThreshold(breakerFails), tta.OpenDuration(breakerOpenFor), tta.SuccessesToClose(1))
	return tta.Fallback(ttaRetry(inner), tta.Primitive[int, int](tta.Func[int, int](alt)))
}

func ttaCache() tta.Primitive[int, int] {
	return tta.Cache(tta.Func[int, int](op), func(in int) int { return in })
}

func ttaParallel8() tta.Primitive[int, []int] {
	ps := make([]tta.Primitive[int, int], 8)
	for i := range ps {
		ps[i] = tta.Func[int, int](op)
	}
	return tta.Parallel(ps...)
}

// failsafe-go

func failsafeRetryPolicy() retrypolicy.RetryPolicy[int] {
	return retrypolicy.NewBuilder[int]().
		WithMaxAttempts(attempts).
		WithBackoffFactor(initialDelay, maxDelay, delayFactor).
		WithJitterFactor(jitter).
		Build()
}

func failsafeRetry() failsafe.Executor[int] {
	return failsafe.With(failsafeRetryPolicy())
}

// failsafeRetryNoDelay relies on the builder's default: no delay.
func failsafeRetryNoDelay() failsafe.Executor[int] {
	return failsafe.With(retrypolicy.NewBuilder[int]().WithMaxAttempts(attempts).Build())
}

func failsafeTimeout() failsafe.Executor[int] {
	return failsafe.With(timeout.New[int](timeLimit))
}

// failsafeChain4 is Fallback(RetryPolicy(CircuitBreaker(Timeout(fn)))).
func failsafeChain4() failsafe.Executor[int] {
	fb := fallback.NewWithFunc(func(exec failsafe.Execution[int]) (int, error) {
		return alt(exec.Context(), 1)
	})
	cb := circuitbreaker.NewBuilder[int]().
		WithFailureThreshold(breakerFails).
		WithDelay(breakerOpenFor).
		WithSuccessThreshold(1).
		Build()
	return failsafe.With(fb, failsafeRetryPolicy(), cb, timeout.New[int](timeLimit))
}

// failsafeOp runs op without a context: enough where no policy has a
// context to give (retries), and failsafe's cheapest entry point.
func failsafeOp() (int, error) { return op(context.Background(), 1) }

// failsafeOpCtx runs op with the execution's context, which carries the
// timeout's deadline: what an op that honours its timeout needs, as tta's and
// the standard library's ops get.
func failsafeOpCtx(exec failsafe.Execution[int]) (int, error) { return op(exec.Context(), 1) }

// backoff

// backoffRetry makes a fresh ExponentialBackOff per call: it is stateful and
// must not be shared by concurrent calls.
func backoffRetry(fn backoff.OperationWithData[int]) (int, error) {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     initialDelay,
		RandomizationFactor: jitter,
		Multiplier:          delayFactor,
		MaxInterval:         maxDelay,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	return backoff.RetryWithData(fn, backoff.WithMaxRetries(b, attempts-1))
}

func backoffRetryNoDelay(fn backoff.OperationWithData[int]) (int, error) {
	return backoff.RetryWithData(fn, backoff.WithMaxRetries(&backoff.ZeroBackOff{}, attempts-1))
}

// standard library and errgroup

func stdlibTimeout(ctx context.Context, in int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeLimit)
	defer cancel()
	return op(ctx, in)
}

// errgroupParallel8 has Parallel's semantics minus panic recovery: results in
// branch order, the first error cancels the others and is returned alone.
func errgroupParallel8(ctx context.Context, in int) ([]int, error) {
	g, gctx := errgroup.WithContext(ctx)
	outs := make([]int, 8)
	for i := range outs {
		g.Go(func() error {
			out, err := op(gctx, in)
			if err != nil {
				return err
			}
			outs[i] = out
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return outs, nil
}
