package tta

import (
	"context"
	"errors"
	"sync/atomic"
)

// Test harness shared by every policy's tests.

var errBoom = errors.New("boom")

// counter is a Primitive[int, int] that counts its calls and returns in+1, or the
// error chosen by fail for the given call number (1-based).
type counter struct {
	calls atomic.Int64
	fail  func(call int) error
}

func (c *counter) Execute(ctx context.Context, in int) (int, error) {
	n := int(c.calls.Add(1))
	if c.fail != nil {
		if err := c.fail(n); err != nil {
			return 0, err
		}
	}
	return in + 1, nil
}

func (c *counter) Calls() int { return int(c.calls.Load()) }

// failNTimes returns a counter whose first n calls fail with err.
func failNTimes(n int, err error) *counter {
	return &counter{fail: func(call int) error {
		if call <= n {
			return err
		}
		return nil
	}}
}

// succeeding returns a counter that never fails.
func succeeding() *counter { return &counter{} }

// blockUntilDone is a Primitive that waits for ctx and returns its error.
var blockUntilDone = Func[int, int](func(ctx context.Context, in int) (int, error) {
	<-ctx.Done()
	return 0, context.Cause(ctx)
})

// failingCounters returns a counter for each of fails that fails every call
// with it (nil: succeeds), and the same counters as primitives.
func failingCounters(fails []error) ([]*counter, []Primitive[int, int]) {
	cs := make([]*counter, len(fails))
	ps := make([]Primitive[int, int], len(fails))
	for i, err := range fails {
		cs[i] = &counter{fail: func(int) error { return err }}
		ps[i] = cs[i]
	}
	return cs, ps
}

// callsOf returns how many calls each counter had.
func callsOf(cs []*counter) []int {
	calls := make([]int, len(cs))
	for i, c := range cs {
		calls[i] = c.Calls()
	}
	return calls
}
