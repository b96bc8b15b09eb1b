package tta

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plus returns a primitive that adds n to its input.
func plus(n int) Primitive[int, int] {
	return Func[int, int](func(ctx context.Context, in int) (int, error) { return in + n, nil })
}

// failWith returns a primitive that fails with err.
func failWith(err error) Primitive[int, int] {
	return Func[int, int](func(ctx context.Context, in int) (int, error) { return 0, err })
}

func TestParallel(t *testing.T) {
	tests := []struct {
		name    string
		ps      []Primitive[int, int]
		limit   int // 0: Parallel
		want    []int
		wantErr error
	}{
		{name: "empty", ps: nil, want: []int{}},
		{name: "empty with limit", ps: nil, limit: 2, want: []int{}},
		{name: "one", ps: []Primitive[int, int]{plus(1)}, want: []int{11}},
		{name: "input order", ps: []Primitive[int, int]{plus(1), plus(2), plus(3), plus(4)}, want: []int{11, 12, 13, 14}},
		{name: "input order with limit 1", ps: []Primitive[int, int]{plus(1), plus(2), plus(3)}, limit: 1, want: []int{11, 12, 13}},
		{name: "limit above len", ps: []Primitive[int, int]{plus(1), plus(2)}, limit: 5, want: []int{11, 12}},
		{name: "one fails", ps: []Primitive[int, int]{plus(1), failWith(errBoom), plus(3)}, wantErr: errBoom},
		{name: "one fails with limit", ps: []Primitive[int, int]{plus(1), plus(2), failWith(errBoom)}, limit: 2, wantErr: errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parallel(tt.ps...)
			if tt.limit > 0 {
				p = ParallelLimit(tt.limit, tt.ps...)
			}
			got, err := p.Execute(t.Context(), 10)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParallelResultsInInputOrderWhateverTheCompletionOrder(t *testing.T) {
	// Branch i may finish only after branch i+1 did: completion order is the
	// reverse of input order.
	const n = 5
	done := make([]chan struct{}, n+1)
	for i := range done {
		done[i] = make(chan struct{})
	}
	close(done[n])
	var order []int
	var mu sync.Mutex // protects order
	ps := make([]Primitive[int, int], n)
	for i := range ps {
		ps[i] = Func[int, int](func(ctx context.Context, in int) (int, error) {
			<-done[i+1]
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			close(done[i])
			return in * i, nil
		})
	}
	got, err := Parallel(ps...).Execute(t.Context(), 2)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2, 4, 6, 8}, got)
	assert.Equal(t, []int{4, 3, 2, 1, 0}, order)
}

func TestParallelFirstErrorCancelsTheOthers(t *testing.T) {
	for _, limit := range []int{0, 3} {
		t.Run(map[int]string{0: "Parallel", 3: "ParallelLimit"}[limit], func(t *testing.T) {
			var causes []error
			var mu sync.Mutex // protects causes
			blocked := Func[int, int](func(ctx context.Context, in int) (int, error) {
				out, err := blockUntilDone.Execute(ctx, in)
				mu.Lock()
				causes = append(causes, err)
				mu.Unlock()
				return out, err
			})
			ps := []Primitive[int, int]{blocked, blocked, failWith(errBoom)}
			p := Parallel(ps...)
			if limit > 0 {
				p = ParallelLimit(limit, ps...)
			}
			got, err := p.Execute(t.Context(), 1)
			// The failing branch's error itself, not joined with the
			// cancellations it caused.
			assert.Same(t, errBoom, err)
			assert.Nil(t, got)
			// Execute returned only after the blocked branches did, and they
			// saw the failure as their context's cause.
			assert.Equal(t, []error{errBoom, errBoom}, causes)
		})
	}
}

func TestParallelCallerCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{}, 2)
	blocked := Func[int, int](func(ctx context.Context, in int) (int, error) {
		started <- struct{}{}
		return blockUntilDone.Execute(ctx, in)
	})
	go func() {
		<-started
		<-started
		cancel()
	}()
	_, err := Parallel[int, int](blocked, blocked).Execute(ctx, 1)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestParallelDoesNotStartBranchesOnceTheContextIsDone(t *testing.T) {
	t.Run("done before the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		a, b := succeeding(), succeeding()
		got, err := Parallel[int, int](a, b).Execute(ctx, 1)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, got)
		assert.Zero(t, a.Calls()+b.Calls())
	})
	t.Run("done while waiting for a slot", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("caller gave up")
		// The first branch cancels the caller's context and still succeeds;
		// with limit 1 the others never start.
		first := Func[int, int](func(ctx context.Context, in int) (int, error) {
			cancel(cause)
			return in, nil
		})
		rest := succeeding()
		got, err := ParallelLimit[int, int](1, first, rest, rest).Execute(ctx, 1)
		assert.Same(t, cause, err)
		assert.Nil(t, got)
		assert.Zero(t, rest.Calls())
	})
	t.Run("branches after a failure do not start with limit", func(t *testing.T) {
		rest := succeeding()
		_, err := ParallelLimit(1, failWith(errBoom), rest, rest).Execute(t.Context(), 1)
		assert.Same(t, errBoom, err)
		assert.Zero(t, rest.Calls())
	})
}

func TestParallelBranchContextIsCancelledAfterReturn(t *testing.T) {
	var seen []context.Context
	var mu sync.Mutex // protects seen
	spy := Func[int, int](func(ctx context.Context, in int) (int, error) {
		mu.Lock()
		seen = append(seen, ctx)
		mu.Unlock()
		return in, nil
	})
	_, err := Parallel[int, int](spy, spy).Execute(t.Context(), 1)
	require.NoError(t, err)
	require.Len(t, seen, 2)
	for _, ctx := range seen {
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	}
}

func TestParallelConcurrencyHighWaterMark(t *testing.T) {
	tests := []struct {
		name     string
		n, limit int // limit 0: Parallel
		wantMax  int
		wantTime time.Duration
	}{
		{name: "unlimited runs all at once", n: 10, limit: 0, wantMax: 10, wantTime: time.Second},
		{name: "limit 1 runs one at a time", n: 4, limit: 1, wantMax: 1, wantTime: 4 * time.Second},
		{name: "limit 3 of 10", n: 10, limit: 3, wantMax: 3, wantTime: 4 * time.Second},
		{name: "limit equal to len", n: 4, limit: 4, wantMax: 4, wantTime: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var active, maxActive atomic.Int64
				ps := make([]Primitive[int, int], tt.n)
				for i := range ps {
					ps[i] = Func[int, int](func(ctx context.Context, in int) (int, error) {
						now := active.Add(1)
						for {
							old := maxActive.Load()
							if now <= old || maxActive.CompareAndSwap(old, now) {
								break
							}
						}
						time.Sleep(time.Second)
						active.Add(-1)
						return in + i, nil
					})
				}
				p := Parallel(ps...)
				if tt.limit > 0 {
					p = ParallelLimit(tt.limit, ps...)
				}
				start := time.Now()
				got, err := p.Execute(t.Context(), 0)
				require.NoError(t, err)
				assert.Len(t, got, tt.n)
				assert.Equal(t, tt.n-1, got[tt.n-1])
				assert.Equal(t, int64(tt.wantMax), maxActive.Load())
				assert.Equal(t, tt.wantTime, time.Since(start))
			})
		})
	}
}

func panicsInBranch(ctx context.Context, in int) (int, error) {
	panic("branch exploded")
}

func TestParallelRecoversPanics(t *testing.T) {
	panicErr := errors.New("panicked with an error")
	tests := []struct {
		name       string
		branch     Func[int, int]
		wantValue  func(t *testing.T, v any)
		wantUnwrap error
		wantMsg    string
	}{
		{
			name:      "string value",
			branch:    panicsInBranch,
			wantValue: func(t *testing.T, v any) { assert.Equal(t, "branch exploded", v) },
			wantMsg:   "tta: panic: branch exploded",
		},
		{
			name:       "error value",
			branch:     func(ctx context.Context, in int) (int, error) { panic(panicErr) },
			wantValue:  func(t *testing.T, v any) { assert.Same(t, panicErr, v) },
			wantUnwrap: panicErr,
			wantMsg:    "tta: panic: panicked with an error",
		},
		{
			name:   "nil value",
			branch: func(ctx context.Context, in int) (int, error) { panic(nil) },
			wantValue: func(t *testing.T, v any) {
				var pn *runtime.PanicNilError
				assert.ErrorAs(t, v.(error), &pn)
			},
			wantMsg: "tta: panic: panic called with nil argument",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := succeeding()
			_, err := Parallel[int, int](other, tt.branch).Execute(t.Context(), 1)
			var pe *PanicError
			require.ErrorAs(t, err, &pe)
			tt.wantValue(t, pe.Value)
			assert.True(t, strings.HasPrefix(pe.Error(), tt.wantMsg), "message %q", pe.Error())
			assert.Contains(t, string(pe.Stack), "parallel_test.go")
			if tt.wantUnwrap != nil {
				assert.ErrorIs(t, err, tt.wantUnwrap)
			} else if tt.name == "string value" {
				assert.NoError(t, pe.Unwrap())
			}
		})
	}
	t.Run("stack names the panicking function", func(t *testing.T) {
		_, err := Parallel[int, int](Func[int, int](panicsInBranch)).Execute(t.Context(), 1)
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		assert.Contains(t, string(pe.Stack), "panicsInBranch")
	})
}

func TestParallelBranchCallingGoexitFailsTheCall(t *testing.T) {
	exits := Func[int, int](func(ctx context.Context, in int) (int, error) {
		runtime.Goexit()
		return in, nil
	})
	for _, limit := range []int{1, 2} {
		rest := succeeding()
		got, err := ParallelLimit[int, int](limit, exits, rest).Execute(t.Context(), 1)
		assert.ErrorIs(t, err, errParallelGoexit)
		assert.Nil(t, got)
	}
}

func TestParallelIsSafeForConcurrentUse(t *testing.T) {
	p := ParallelLimit(2, plus(1), plus(2), plus(3))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			got, err := p.Execute(t.Context(), i)
			assert.NoError(t, err)
			assert.Equal(t, []int{i + 1, i + 2, i + 3}, got)
		})
	}
	wg.Wait()
}

func TestParallelMisuse(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: ParallelLimit: limit must be >= 1, got 0; use Parallel for no limit",
		func() { ParallelLimit(0, plus(1)) })
	assert.PanicsWithValue(t,
		"tta: ParallelLimit: limit must be >= 1, got -2; use Parallel for no limit",
		func() { ParallelLimit(-2, plus(1)) })
	assert.PanicsWithValue(t,
		"tta: Parallel: second primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Parallel(plus(1), nil) })
	assert.PanicsWithValue(t,
		"tta: ParallelLimit: first primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { ParallelLimit[int, int](2, Func[int, int](nil)) })
}

func BenchmarkParallel8(b *testing.B) {
	ps := make([]Primitive[int, int], 8)
	for i := range ps {
		ps[i] = plus(i)
	}
	p := Parallel(ps...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Execute(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}
