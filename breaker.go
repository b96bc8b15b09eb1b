package tta

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker. The zero value is StateClosed.
type BreakerState int

const (
	// StateClosed lets every call through and counts consecutive failures.
	StateClosed BreakerState = iota
	// StateOpen rejects every call with an error wrapping ErrCircuitOpen until
	// OpenDuration has passed since the circuit opened.
	StateOpen
	// StateHalfOpen lets a few trial calls through: enough successes close the
	// circuit, any failure opens it again.
	StateHalfOpen
)

// String returns "closed", "open" or "half-open", and "BreakerState(n)" for a
// value that is none of the three.
func (s BreakerState) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerOption configures CircuitBreaker. Each option panics at once on an
// invalid value; a later option overrides an earlier one of the same kind.
type BreakerOption func(*breakerConfig)

type breakerConfig struct {
	failureThreshold int
	openDuration     time.Duration
	successesToClose int
	isFailure        func(error) bool            // nil: every counted error is a failure
	onStateChange    func(from, to BreakerState) // nil: no hook
}

// FailureThreshold sets how many consecutive failures open a closed circuit.
// The default is 5. A success resets the count. It panics if n < 1.
func FailureThreshold(n int) BreakerOption {
	if n < 1 {
		misuse("CircuitBreaker", "FailureThreshold must be >= 1, got %d; use 1 to open on the first failure", n)
	}
	return func(c *breakerConfig) { c.failureThreshold = n }
}

// OpenDuration sets how long an open circuit rejects calls before it lets trial
// calls through (half-open). The default is 30s. It panics if d <= 0.
func OpenDuration(d time.Duration) BreakerOption {
	if d <= 0 {
		misuse("CircuitBreaker", "OpenDuration must be > 0, got %v; pass how long to reject calls after the circuit opens, such as 30*time.Second", d)
	}
	return func(c *breakerConfig) { c.openDuration = d }
}

// SuccessesToClose sets how many successful trial calls close a half-open
// circuit. The default is 1. It is also the most trial calls that run at once.
// It panics if n < 1.
func SuccessesToClose(n int) BreakerOption {
	if n < 1 {
		misuse("CircuitBreaker", "SuccessesToClose must be >= 1, got %d; use 1 to close on the first successful trial call", n)
	}
	return func(c *breakerConfig) { c.successesToClose = n }
}

// BreakerFailureIf sets which errors count as failures: a non-nil error for
// which isFailure returns false counts as a success (the dependency answered).
// By default every non-nil error is a failure. Whatever isFailure says, an
// error returned after the caller's own context is done is not counted at all
// (see CircuitBreaker). It panics if isFailure is nil.
func BreakerFailureIf(isFailure func(error) bool) BreakerOption {
	if isFailure == nil {
		misuse("CircuitBreaker", "BreakerFailureIf function is nil; pass a func(error) bool that reports whether an error counts as a failure, or drop the option to count every error")
	}
	return func(c *breakerConfig) { c.isFailure = isFailure }
}

// OnStateChange sets a hook called on every state transition with the old and
// the new state. Hooks are called outside the breaker's lock, one at a time, in
// the order of the transitions; a hook may therefore call State or Execute. A
// hook may run on a goroutine other than the one whose call caused the
// transition, possibly just after that call has returned. The open to half-open
// transition happens lazily, at the first Execute or State after OpenDuration.
// It panics if hook is nil.
func OnStateChange(hook func(from, to BreakerState)) BreakerOption {
	if hook == nil {
		misuse("CircuitBreaker", "OnStateChange hook is nil; pass a func(from, to BreakerState) or drop the option")
	}
	return func(c *breakerConfig) { c.onStateChange = hook }
}

// CircuitBreaker returns a Breaker that stops calling p while p keeps failing,
// so that a broken dependency is given time to recover and callers fail fast.
//
// Closed (the initial state), it calls p and counts consecutive failures;
// FailureThreshold of them (default 5) open the circuit. Open, it returns at
// once an error wrapping ErrCircuitOpen that says how long until it half-opens,
// without calling p. After OpenDuration (default 30s) it is half-open: it lets
// trial calls through, at most as many at once as successes are still needed to
// close (SuccessesToClose, default 1), and rejects the rest with ErrCircuitOpen.
// SuccessesToClose successful trials close the circuit; any failed trial opens
// it again for another OpenDuration. A call's result only counts in the state
// (and the stint in that state) in which the call began: a slow call started
// while closed cannot close a half-open circuit.
//
// A nil error is a success. A non-nil error returned when the caller's ctx is
// done (cancelled or past its deadline) counts as neither success nor failure:
// the caller gave up, which says nothing about p's health. To count slow calls
// as failures, bound them inside the breaker with Timeout, whose ErrTimeout
// counts: CircuitBreaker(Timeout(p, d)). Every other error is a failure unless
// BreakerFailureIf says otherwise. A panic in p counts as a failure and is
// propagated.
//
// The rejection error is a RetryAfterError whose RetryAfter is the time left
// until the circuit half-opens (0 while half-open), which Retry honours:
// Retry(CircuitBreaker(p)) waits for the trial window instead of spending
// attempts on a circuit that is known to be open.
//
// The clock is time.Now, so the breaker runs in fake time under testing/synctest.
// A closed breaker costs two uncontended mutex operations per call (about
// 25 ns) and does not allocate. CircuitBreaker panics if p is nil or an option is nil.
func CircuitBreaker[In, Out any](p Primitive[In, Out], opts ...BreakerOption) *Breaker[In, Out] {
	mustNotBeNil("CircuitBreaker", "primitive", p)
	cfg := breakerConfig{
		failureThreshold: 5,
		openDuration:     30 * time.Second,
		successesToClose: 1,
	}
	for i, o := range opts {
		if o == nil {
			misuse("CircuitBreaker", "%s option is nil; pass options such as tta.FailureThreshold(5)", ordinal(i))
		}
		o(&cfg)
	}
	return &Breaker[In, Out]{p: p, cfg: cfg}
}

// Breaker is a circuit breaker around a Primitive, created by CircuitBreaker.
// It implements Primitive. The zero Breaker is not usable, and a Breaker must
// not be copied after first use.
//
// A Breaker is safe for concurrent use by multiple goroutines; all of them share
// its state.
type Breaker[In, Out any] struct {
	p   Primitive[In, Out]
	cfg breakerConfig

	mu         sync.Mutex    // protects the fields below
	state      BreakerState  // current state
	generation uint64        // counts transitions; results of calls begun in an older one are ignored
	failures   int           // consecutive failures while closed
	openUntil  time.Time     // when an open circuit becomes half-open
	trials     int           // trial calls in flight while half-open
	successes  int           // successful trial calls while half-open
	pending    []stateChange // transitions not yet passed to cfg.onStateChange, oldest first
	notifying  bool          // a goroutine is passing pending transitions to the hook
}

type stateChange struct{ from, to BreakerState }

// outcome is what a finished call tells the breaker about p.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeIgnored
)

// Execute calls p unless the circuit is open (or half-open with enough trial
// calls in flight), in which case it returns the zero Out and an error wrapping
// ErrCircuitOpen. Otherwise it returns p's result unchanged.
func (b *Breaker[In, Out]) Execute(ctx context.Context, in In) (out Out, err error) {
	ctx, o := observe(ctx, spanBreaker)
	defer o.end(ctx, &err)
	var found BreakerState // the state before this call, when observed
	if o.t != nil {
		found = b.peek()
		defer func() { o.breakerChanged(ctx, found, b.peek()) }()
		if o.recording() {
			o.set(attrBreaker.String(found.String()))
		}
	}
	gen, err := b.acquire()
	if err != nil {
		return out, err
	}
	finished := false
	defer func() {
		if !finished { // p panicked
			b.release(gen, outcomeFailure)
		}
	}()
	out, err = b.p.Execute(ctx, in)
	finished = true
	b.release(gen, b.classify(ctx, err))
	return out, err
}

// State returns the current state. An open circuit whose OpenDuration has
// passed becomes half-open here (and OnStateChange hears of it).
func (b *Breaker[In, Out]) State() BreakerState {
	b.mu.Lock()
	if b.state == StateOpen && !time.Now().Before(b.openUntil) {
		b.setState(StateHalfOpen)
	}
	s := b.state
	b.unlock()
	return s
}

// peek returns the current state as it is, without the lazy move from open
// to half-open that State makes.
func (b *Breaker[In, Out]) peek() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// acquire admits a call, returning the generation it runs in, or rejects it.
func (b *Breaker[In, Out]) acquire() (uint64, error) {
	b.mu.Lock()
	if b.state == StateClosed {
		gen := b.generation
		b.mu.Unlock()
		return gen, nil
	}
	if b.state == StateOpen {
		if left := time.Until(b.openUntil); left > 0 {
			b.mu.Unlock()
			return 0, &breakerOpenError{halfOpenIn: left}
		}
		b.setState(StateHalfOpen)
	}
	if b.trials >= b.cfg.successesToClose-b.successes {
		err := &breakerOpenError{trials: b.trials}
		b.unlock()
		return 0, err
	}
	b.trials++
	gen := b.generation
	b.unlock()
	return gen, nil
}

// release records the outcome of a call admitted in generation gen.
func (b *Breaker[In, Out]) release(gen uint64, o outcome) {
	b.mu.Lock()
	if gen != b.generation {
		b.mu.Unlock()
		return
	}
	switch b.state {
	case StateClosed:
		switch o {
		case outcomeSuccess:
			b.failures = 0
		case outcomeFailure:
			b.failures++
			if b.failures >= b.cfg.failureThreshold {
				b.setState(StateOpen)
			}
		}
	case StateHalfOpen:
		b.trials--
		switch o {
		case outcomeSuccess:
			b.successes++
			if b.successes >= b.cfg.successesToClose {
				b.setState(StateClosed)
			}
		case outcomeFailure:
			b.setState(StateOpen)
		}
	}
	b.unlock()
}

func (b *Breaker[In, Out]) classify(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return outcomeSuccess
	case ctx.Err() != nil:
		return outcomeIgnored
	case b.cfg.isFailure == nil || b.cfg.isFailure(err):
		return outcomeFailure
	}
	return outcomeSuccess
}

// setState moves to state to and starts a new generation. b.mu must be held.
func (b *Breaker[In, Out]) setState(to BreakerState) {
	from := b.state
	b.state = to
	b.generation++
	b.failures, b.trials, b.successes = 0, 0, 0
	if to == StateOpen {
		b.openUntil = time.Now().Add(b.cfg.openDuration)
	}
	if b.cfg.onStateChange != nil {
		b.pending = append(b.pending, stateChange{from, to})
	}
}

// unlock releases b.mu and then, unless another goroutine is already doing so,
// passes pending transitions to the hook in order. b.mu must be held.
func (b *Breaker[In, Out]) unlock() {
	if len(b.pending) == 0 || b.notifying {
		b.mu.Unlock()
		return
	}
	b.notifying = true
	for len(b.pending) > 0 {
		c := b.pending[0]
		b.pending = b.pending[:copy(b.pending, b.pending[1:])]
		b.mu.Unlock()
		b.notify(c)
		b.mu.Lock()
	}
	b.notifying = false
	b.mu.Unlock()
}

// notify calls the hook with b.mu not held; if the hook panics, it lets the
// next transition be reported before the panic propagates.
func (b *Breaker[In, Out]) notify(c stateChange) {
	returned := false
	defer func() {
		if !returned {
			b.mu.Lock()
			b.notifying = false
			b.mu.Unlock()
		}
	}()
	b.cfg.onStateChange(c.from, c.to)
	returned = true
}

// breakerOpenError is returned while the circuit rejects calls.
type breakerOpenError struct {
	halfOpenIn time.Duration // > 0 while open
	trials     int           // trial calls in flight while half-open
}

func (e *breakerOpenError) Error() string {
	if e.halfOpenIn > 0 {
		return fmt.Sprintf("%v: half-open in %v", ErrCircuitOpen, e.halfOpenIn.Round(time.Millisecond))
	}
	return fmt.Sprintf("%v: half-open with %d trial call(s) in flight; try again when they finish", ErrCircuitOpen, e.trials)
}

func (e *breakerOpenError) Unwrap() error { return ErrCircuitOpen }

// RetryAfter returns how long until the circuit half-opens, 0 if it already is.
func (e *breakerOpenError) RetryAfter() time.Duration { return e.halfOpenIn }
