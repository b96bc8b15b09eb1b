package tta

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFallback(t *testing.T) {
	errBang := errors.New("bang")
	errBust := errors.New("bust")
	tests := []struct {
		name      string
		fails     []error // nil: that primitive succeeds
		want      int
		wantCalls []int
		wantErrs  []error
		wantMsg   string
	}{
		{name: "primary succeeds", fails: []error{nil, nil}, want: 11, wantCalls: []int{1, 0}},
		{name: "first alternative succeeds", fails: []error{errBoom, nil, nil}, want: 11, wantCalls: []int{1, 1, 0}},
		{name: "last alternative succeeds", fails: []error{errBoom, errBang, nil}, want: 11, wantCalls: []int{1, 1, 1}},
		{
			name:      "all fail",
			fails:     []error{errBoom, errBang, errBust},
			wantCalls: []int{1, 1, 1},
			wantErrs:  []error{errBoom, errBang, errBust},
			wantMsg:   "tta: all 3 alternatives failed: primary: boom; alternative 1: bang; alternative 2: bust",
		},
		{
			name:      "both of two fail with the same error",
			fails:     []error{errBoom, errBoom},
			wantCalls: []int{1, 1},
			wantErrs:  []error{errBoom, errBoom},
			wantMsg:   "tta: all 2 alternatives failed: primary: boom; alternative 1: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, ps := failingCounters(tt.fails)
			got, err := Fallback(ps[0], ps[1:]...).Execute(t.Context(), 10)
			assert.Equal(t, tt.wantCalls, callsOf(cs))
			if tt.wantErrs == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			assert.Zero(t, got)
			var fe *FallbackError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.wantErrs, fe.Errs)
			assert.Equal(t, len(tt.fails), fe.Total)
			assert.NoError(t, fe.Stopped)
			assert.EqualError(t, err, tt.wantMsg)
			for _, cause := range tt.wantErrs {
				assert.ErrorIs(t, err, cause)
			}
			assert.NotErrorIs(t, err, context.Canceled)
		})
	}
}

func TestFallbackErrorMatchesTypedCauses(t *testing.T) {
	pe := &PanicError{Value: "x"}
	_, err := Fallback(failWith(errBoom), failWith(pe)).Execute(t.Context(), 0)
	var got *PanicError
	require.ErrorAs(t, err, &got)
	assert.Same(t, pe, got)
}

func TestFallbackWithoutAlternativesReturnsThePrimary(t *testing.T) {
	p := succeeding()
	assert.Equal(t, Primitive[int, int](p), Fallback[int, int](p))
}

func TestFallbackDoesNotFallBackOnceTheContextIsDone(t *testing.T) {
	t.Run("cancelled by the primary's caller while it ran", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		primary := Func[int, int](func(ctx context.Context, in int) (int, error) {
			cancel()
			return 0, errBoom
		})
		alt1, alt2 := succeeding(), succeeding()
		got, err := Fallback[int, int](primary, alt1, alt2).Execute(ctx, 1)
		assert.Zero(t, got)
		assert.Zero(t, alt1.Calls()+alt2.Calls(), "no alternative may run")
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errBoom)
		assert.EqualError(t, err, "tta: fallback stopped after 1 of 3 alternatives: context canceled; primary: boom")
		var fe *FallbackError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, []error{errBoom}, fe.Errs)
		assert.Equal(t, 3, fe.Total)
	})
	t.Run("stopped after an alternative, with a cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("user left")
		alt1 := Func[int, int](func(ctx context.Context, in int) (int, error) {
			cancel(cause)
			return 0, context.Cause(ctx)
		})
		alt2 := succeeding()
		_, err := Fallback[int, int](failWith(errBoom), alt1, alt2).Execute(ctx, 1)
		assert.Zero(t, alt2.Calls())
		assert.ErrorIs(t, err, cause)
		assert.ErrorIs(t, err, errBoom)
		assert.EqualError(t, err, "tta: fallback stopped after 2 of 3 alternatives: user left; primary: boom; alternative 1: user left")
	})
	t.Run("done before the call: the primary still runs", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		primary, alt := &counter{fail: func(int) error { return context.Canceled }}, succeeding()
		_, err := Fallback[int, int](primary, alt).Execute(ctx, 1)
		assert.Equal(t, 1, primary.Calls())
		assert.Zero(t, alt.Calls())
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("the last failure needs no stop", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		alt := Func[int, int](func(ctx context.Context, in int) (int, error) {
			cancel()
			return 0, ctx.Err()
		})
		_, err := Fallback(failWith(errBoom), alt).Execute(ctx, 1)
		assert.EqualError(t, err, "tta: all 2 alternatives failed: primary: boom; alternative 1: context canceled")
	})
}

// namedFail is a failing primitive with a name for messages.
type namedFail string

func (n namedFail) Execute(ctx context.Context, in int) (int, error) { return 0, errBoom }
func (n namedFail) String() string                                   { return string(n) }

func TestFallbackNamesStringers(t *testing.T) {
	_, err := Fallback[int, int](namedFail("custom template"), failWith(errBoom), namedFail("pip install")).Execute(t.Context(), 0)
	assert.EqualError(t, err,
		"tta: all 3 alternatives failed: primary (custom template): boom; alternative 1: boom; alternative 2 (pip install): boom")
}

func TestFallbackErrorBuiltByHand(t *testing.T) {
	err := &FallbackError{Errs: []error{errBoom, errBoom}, Total: 2}
	assert.EqualError(t, err, "tta: all 2 alternatives failed: primary: boom; alternative 1: boom")
}

func TestFallbackIsSafeForConcurrentUse(t *testing.T) {
	primary := failNTimes(5, errBoom)
	f := Fallback[int, int](primary, plus(100))
	var wg sync.WaitGroup
	results := make([]int, 10)
	for i := range results {
		wg.Go(func() {
			got, err := f.Execute(t.Context(), 0)
			assert.NoError(t, err)
			results[i] = got
		})
	}
	wg.Wait()
	fromPrimary, fromAlt := 0, 0
	for _, r := range results {
		switch r {
		case 1:
			fromPrimary++
		case 100:
			fromAlt++
		}
	}
	assert.Equal(t, 5, fromPrimary)
	assert.Equal(t, 5, fromAlt)
}

func TestFallbackMisuse(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: Fallback: primary primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Fallback(nil, plus(1)) })
	assert.PanicsWithValue(t,
		"tta: Fallback: alternative 2 is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Fallback(plus(1), plus(2), Func[int, int](nil)) })
}

func TestFallbackIf(t *testing.T) {
	errSafe := errors.New("safe to move on")
	errFinal := errors.New("do not move on")
	tests := []struct {
		name      string
		fails     []error // nil: that primitive succeeds
		wantCalls []int
		wantNext  int   // calls of next
		wantErr   error // returned as is; nil with wantErrs
		wantErrs  []error
	}{
		{name: "moves on after an error next accepts", fails: []error{errSafe, nil}, wantCalls: []int{1, 1}, wantNext: 1},
		{name: "stops at an error next refuses", fails: []error{errFinal, nil, nil}, wantCalls: []int{1, 0, 0}, wantNext: 1, wantErr: errFinal},
		{name: "stops at an alternative's refused error", fails: []error{errSafe, errFinal, nil}, wantCalls: []int{1, 1, 0}, wantNext: 2, wantErr: errFinal},
		{name: "the last failure is not asked about", fails: []error{errSafe, errFinal}, wantCalls: []int{1, 1}, wantNext: 1, wantErrs: []error{errSafe, errFinal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, ps := failingCounters(tt.fails)
			for i := range ps {
				ps[i] = withOutputOnError(ps[i], 100+i)
			}
			nexts := 0
			next := func(err error) bool { nexts++; return !errors.Is(err, errFinal) }
			got, err := FallbackIf(next, ps[0], ps[1:]...).Execute(t.Context(), 10)
			assert.Equal(t, tt.wantCalls, callsOf(cs))
			assert.Equal(t, tt.wantNext, nexts)
			switch {
			case tt.wantErr != nil:
				assert.Same(t, tt.wantErr, err, "returned unchanged")
				assert.Equal(t, 100+slices.Index(tt.fails, tt.wantErr), got, "with the output of the primitive that failed")
			case tt.wantErrs != nil:
				var fe *FallbackError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tt.wantErrs, fe.Errs)
			default:
				require.NoError(t, err)
				assert.Equal(t, 11, got)
			}
		})
	}
}

func TestFallbackIfMisuse(t *testing.T) {
	accept := func(error) bool { return true }
	assert.PanicsWithValue(t,
		"tta: FallbackIf: next is nil; pass a function that says which errors to fall back on, or use Fallback for all",
		func() { FallbackIf(nil, plus(1), plus(2)) })
	assert.PanicsWithValue(t,
		"tta: FallbackIf: primary primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { FallbackIf(accept, nil, plus(1)) })
	p := succeeding()
	assert.Equal(t, Primitive[int, int](p), FallbackIf[int, int](accept, p))
}

// withOutputOnError returns p, except that a failure comes with out.
func withOutputOnError(p Primitive[int, int], out int) Primitive[int, int] {
	return Func[int, int](func(ctx context.Context, in int) (int, error) {
		got, err := p.Execute(ctx, in)
		if err != nil {
			return out, err
		}
		return got, nil
	})
}
