package tta

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFuncExecuteCallsTheFunction(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "v")
	f := Func[int, string](func(ctx context.Context, in int) (string, error) {
		return ctx.Value(key{}).(string) + strconv.Itoa(in), errBoom
	})
	got, err := f.Execute(ctx, 7)
	assert.Equal(t, "v7", got)
	assert.Same(t, errBoom, err)
}

func TestThen(t *testing.T) {
	itoa := Func[int, string](func(ctx context.Context, in int) (string, error) { return strconv.Itoa(in), nil })
	tests := []struct {
		name      string
		a         *counter
		b         Primitive[int, string]
		want      string
		wantErr   error
		wantCalls int // calls of a
	}{
		{name: "chains types", a: succeeding(), b: itoa, want: "2", wantCalls: 1},
		{name: "first fails: second not called", a: failNTimes(1, errBoom), b: Func[int, string](func(ctx context.Context, in int) (string, error) {
			t.Fatal("second primitive called after the first failed")
			return "", nil
		}), wantErr: errBoom, wantCalls: 1},
		{name: "second fails", a: succeeding(), b: Func[int, string](func(ctx context.Context, in int) (string, error) {
			return "partial", errBoom
		}), want: "partial", wantErr: errBoom, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Then[int, int, string](tt.a, tt.b).Execute(t.Context(), 1)
			assert.Equal(t, tt.wantCalls, tt.a.Calls())
			assert.Equal(t, tt.want, got)
			if tt.wantErr != nil {
				assert.Same(t, tt.wantErr, err, "errors pass through unchanged")
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestThenPassesTheContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "v")
	var seen []any
	spy := Func[int, int](func(ctx context.Context, in int) (int, error) {
		seen = append(seen, ctx.Value(key{}))
		return in, nil
	})
	_, err := Then(spy, spy).Execute(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, []any{"v", "v"}, seen)
}

func TestThenMisuse(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: Then: first primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Then[int, int, int](nil, plus(1)) })
	assert.PanicsWithValue(t,
		"tta: Then: second primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Then(plus(1), Func[int, int](nil)) })
}

func TestSequence(t *testing.T) {
	times := func(n int) Primitive[int, int] {
		return Func[int, int](func(ctx context.Context, in int) (int, error) { return in * n, nil })
	}
	tests := []struct {
		name    string
		ps      []Primitive[int, int]
		want    int
		wantErr error
	}{
		{name: "empty returns the input", ps: nil, want: 3},
		{name: "one", ps: []Primitive[int, int]{plus(1)}, want: 4},
		{name: "in order", ps: []Primitive[int, int]{plus(1), times(10), plus(2)}, want: 42},
		{name: "other order, other result", ps: []Primitive[int, int]{times(10), plus(1), plus(2)}, want: 33},
		{name: "error stops the sequence with the zero value", ps: []Primitive[int, int]{plus(1), failWith(errBoom), plus(2)}, wantErr: errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sequence(tt.ps...).Execute(t.Context(), 3)
			if tt.wantErr != nil {
				assert.Same(t, tt.wantErr, err)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSequenceStopsAtTheFirstError(t *testing.T) {
	after := succeeding()
	_, err := Sequence(plus(1), failWith(errBoom), Primitive[int, int](after)).Execute(t.Context(), 0)
	assert.ErrorIs(t, err, errBoom)
	assert.Zero(t, after.Calls())
}

func TestSequenceCopiesItsArguments(t *testing.T) {
	ps := []Primitive[int, int]{plus(1), plus(2)}
	s := Sequence(ps...)
	ps[0] = failWith(errBoom)
	got, err := s.Execute(t.Context(), 0)
	require.NoError(t, err)
	assert.Equal(t, 3, got)
}

func TestSequenceMisuse(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: Sequence: second primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { Sequence(plus(1), nil) })
	assert.PanicsWithValue(t,
		"tta: Sequence: #11 primitive is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() {
			ps := make([]Primitive[int, int], 11)
			for i := range 10 {
				ps[i] = plus(i)
			}
			Sequence(ps...)
		})
}
