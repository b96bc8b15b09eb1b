package tta

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
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

// gated returns a Primitive that waits until gate is closed, then calls p.
func gated(gate <-chan struct{}, p Primitive[int, int]) Primitive[int, int] {
	return Func[int, int](func(ctx context.Context, in int) (int, error) {
		<-gate
		return p.Execute(ctx, in)
	})
}

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

// misuseCase is a misuse that must panic with want at construction.
type misuseCase struct {
	name string
	want string
	f    func()
}

// assertMisusePanics runs each case as a subtest: f must panic with want.
func assertMisusePanics(t *testing.T, cases []misuseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.PanicsWithValue(t, tc.want, tc.f)
		})
	}
}

// assertNoAllocs checks that a call of p with input 1 allocates nothing.
func assertNoAllocs(t *testing.T, p Primitive[int, int]) {
	t.Helper()
	ctx := t.Context()
	allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, 1) })
	assert.Zero(t, allocs)
}
