// Package tta provides composable workflow primitives for AI-agent workflows,
// and a primitive that runs code in E2B sandboxes.
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
// attempts together, backoff sleeps included. The library waits for a slow
// sandbox to become ready with exactly the latter.
//
// # Running code
//
// [CodeExecutionPrimitive] is a Primitive[CodeInput, CodeOutput] that runs
// code in a sandbox, on E2B by default ([NewCodeExecution]), on the in-memory
// fake of package ttatest in tests, or on any [Provider]. Each Execute gets a
// fresh sandbox, waits for its code interpreter within the template's init
// window, runs the code and kills the sandbox on every path; the code's own
// error is a result (CodeOutput.Error), not a Go error. A [Session]
// (CodeExecutionPrimitive.NewSession) is the stateful alternative: one sandbox
// and interpreter state across calls, like a notebook. Both compose with
// everything above:
//
//	exec, err := tta.NewCodeExecution(tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"}))
//	defer exec.Close() // kills every sandbox it still holds
//	flow := tta.Timeout(tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(4)), 3*time.Minute)
//
// # Errors
//
// Errors have identity: sentinels such as [ErrTimeout] and [ErrCircuitOpen] and
// typed errors such as [*RetryError] work with errors.Is and errors.As. A timeout
// raised by [Timeout] is distinguishable from the caller's own cancellation. An
// error says whether trying again can help through [TransientError] and
// [RetryAfterError] ([IsTransient], [RetryAfter]), which Retry reads; the
// errors of package e2b implement them too.
//
// Code execution tells one story. The code's own error is a result, an
// [*ExecutionError] in CodeOutput.Error. When the code could not be run,
// Execute returns a [*TemplateNotReadyError] (the interpreter did not answer
// within the init window), an [*InstallError] (packages could not be
// installed) or a [*SandboxError] (any other sandbox operation; Started says
// whether the code may have started). IsTransient tells, for each, whether Retry
// may try again, which it never may once the code may have started, and
// [CodeNotStarted] tells whether the code certainly did not start. A run whose
// stream broke while its sandbox lived is also a [*StreamLostError], and a
// Session whose sandbox is gone says what was lost with a [*SessionLostError].
//
// # Timeouts
//
// Each timeout is named after what it bounds. [WithSandboxTimeout]: a
// sandbox's lifetime at the provider from its create or last extension, so
// the most it outlives a process that crashed (a call in progress keeps its
// sandbox alive). [WithInitWindow] and Template.Window: the wait for a new
// sandbox's interpreter. CodeInput.Timeout: one run of the code. The E2B
// client's e2b.WithRequestTimeout: one HTTP request, and for a stream the wait
// for its response headers. [WithKillTimeout]: the clean-up of one sandbox.
// [Timeout] around the primitive, or the context: a whole call, retries
// included.
//
// # Sandbox fleets
//
// Every sandbox names its owner, process and purpose in its metadata
// ([WithOwner]), so that those a crashed process left can be killed later:
// `tta reap`, e2b.Client.Reap, or [WithReapAtStart]. [WithCreateLimit] and
// [LimitCreates] keep creates within a plan's rate and concurrency
// ([HobbyPlan], [ProPlan]). A warm pool checks its idle sandboxes without
// extending them and replaces them before they expire.
//
// # Telemetry
//
// A [Telemetry] (NewTelemetry) reports what the primitives do: OpenTelemetry
// spans and metrics through the providers it is given, and records through a
// log/slog logger. Attach it to a context with [ContextWithTelemetry]; every
// primitive run with that context reports to it, each Execute a span named
// after the primitive ([Named] names a step of your own), nested as the
// workflow is. A CodeExecutionPrimitive can be given one for good
// ([WithTelemetry]). Nothing is reported, and nothing is allocated for it,
// without one. The code, its output, environment variables and keys are
// never reported.
//
// # Options and misuse
//
// Options follow one rule per kind of constructor. A decorator's options are
// named for what they set and typed for their decorator, so that they read as
// part of the call: Retry(p, MaxAttempts(4), Jitter(0)) takes RetryOption
// values, CircuitBreaker takes BreakerOption, Cache CacheOption and Bulkhead
// BulkheadOption. NewCodeExecution, which configures a long-lived resource
// rather than wraps a step, takes Option values named With...: WithTemplate,
// WithWarmPool, WithPackages; so does NewTelemetry (TelemetryOption values:
// WithTracerProvider, WithMeterProvider, WithLogger). In every case options
// apply in order and the last one setting a thing wins.
//
// Constructors and options validate their arguments and panic with a message
// that names the constructor or option, the bad value and what to do (a nil
// primitive, a negative duration, a zero limit): such mistakes are programming
// errors that surface at start-up, never at run time in the hot path. Run-time
// data is never a reason to panic: bad input to Execute (a negative
// CodeInput.Timeout, an invalid package name) is an error. A panic of your
// own code goes on, though: Parallel and Saga turn a branch's or a
// compensation's panic into a [*PanicError], and an output callback of
// CodeInput that panics has its sandbox killed before the panic goes on in
// the caller's goroutine.
//
// Every Primitive in this package is immutable after construction and safe for
// concurrent use.
package tta
