// Package tta provides composable workflow primitives for AI-agent workflows.
//
// Everything is a [Primitive]: a typed step with Execute(ctx, In) (Out, error).
// Compositions build bigger steps from smaller ones:
//
//	Then(a, b)             a's output feeds b (types chain: A→B→C)
//	Sequence(ps...)        same-typed steps in order
//	Parallel(ps...)        every branch on the same input, results in input order
//	Router(key, routes, d) choose a step by a function of the input
//	Fallback(p, alts...)   next alternative on error
//	FallbackIf(next, p, …) next alternative on the errors next accepts
//	Saga(steps...)         steps with compensations run in reverse on failure
//
// Decorators wrap a step and are steps themselves: [Retry], [Timeout],
// [CircuitBreaker], [Cache] and [Bulkhead]. Their order is their meaning; read a
// chain from the outside in:
//
//	Fallback(                       // 4. if all else failed, try the alternative
//	    Retry(                      // 3. retry transient failures with backoff
//	        CircuitBreaker(         // 2. stop calling a dependency that keeps failing
//	            Timeout(op, 2*time.Second))), // 1. bound each attempt
//	    alternative)
//
// Retry(Timeout(p, d)) bounds each attempt by d; Timeout(Retry(p), d) bounds all
// attempts together, backoff sleeps included. The library waits for a slow E2B
// sandbox to become ready with exactly the latter.
//
// Errors have identity: sentinels such as [ErrTimeout] and [ErrCircuitOpen] and
// typed errors such as [*RetryError] work with errors.Is and errors.As. A timeout
// raised by [Timeout] is distinguishable from the caller's own cancellation.
//
// Constructors validate their arguments and panic with a message that names the
// constructor and the bad value (a nil primitive, a negative duration, a zero
// limit): such mistakes are programming errors that surface at start-up, never at
// run time in the hot path. Execute never panics on its input.
//
// Every Primitive in this package is immutable after construction and safe for
// concurrent use.
package tta
