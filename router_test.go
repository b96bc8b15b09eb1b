package tta

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouter(t *testing.T) {
	byParity := func(n int) string {
		if n%2 == 0 {
			return "even"
		}
		return "odd"
	}
	routes := map[string]Primitive[int, int]{"even": plus(100), "odd": plus(200)}
	tests := []struct {
		name    string
		routes  map[string]Primitive[int, int]
		def     Primitive[int, int]
		in      int
		want    int
		wantErr string
	}{
		{name: "first route", routes: routes, in: 2, want: 102},
		{name: "second route", routes: routes, in: 3, want: 203},
		{name: "route wins over default", routes: routes, def: plus(1), in: 2, want: 102},
		{name: "default for unknown key", routes: map[string]Primitive[int, int]{"even": plus(100)}, def: plus(1), in: 3, want: 4},
		{name: "nil routes go to default", routes: nil, def: plus(1), in: 3, want: 4},
		{name: "unknown key without default", routes: map[string]Primitive[int, int]{"even": plus(100)}, in: 3, wantErr: "tta: no route for key odd"},
		{name: "typed nil default is no default", routes: map[string]Primitive[int, int]{}, def: Func[int, int](nil), in: 2, wantErr: "tta: no route for key even"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Router(byParity, tt.routes, tt.def).Execute(t.Context(), tt.in)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrNoRoute)
				assert.EqualError(t, err, tt.wantErr)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRouterPassesContextAndErrorsThrough(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "v")
	var seen any
	spy := Func[int, int](func(ctx context.Context, in int) (int, error) {
		seen = ctx.Value(key{})
		return 0, errBoom
	})
	_, err := Router(func(int) int { return 1 }, map[int]Primitive[int, int]{1: spy}, nil).Execute(ctx, 0)
	assert.Same(t, errBoom, err)
	assert.Equal(t, "v", seen)
}

func TestRouterNamesNonStringKeys(t *testing.T) {
	type tier struct {
		Name  string
		Level int
	}
	r := Router(func(in int) tier { return tier{"gpu", in} }, map[tier]Primitive[int, int]{{"cpu", 1}: plus(1)}, nil)
	_, err := r.Execute(t.Context(), 7)
	assert.ErrorIs(t, err, ErrNoRoute)
	assert.EqualError(t, err, "tta: no route for key {gpu 7}")
}

func TestRouterCopiesRoutes(t *testing.T) {
	routes := map[string]Primitive[string, string]{"a": upper}
	r := Router(func(s string) string { return s }, routes, nil)
	routes["b"] = upper
	delete(routes, "a")

	got, err := r.Execute(t.Context(), "a")
	require.NoError(t, err)
	assert.Equal(t, "A", got)
	_, err = r.Execute(t.Context(), "b")
	assert.ErrorIs(t, err, ErrNoRoute)
}

var upper = Func[string, string](func(ctx context.Context, in string) (string, error) {
	return strings.ToUpper(in), nil
})

func TestRouterCallsKeyOncePerExecute(t *testing.T) {
	var mu sync.Mutex // protects calls
	calls := 0
	key := func(in int) int {
		mu.Lock()
		calls++
		mu.Unlock()
		return in % 2
	}
	r := Router(key, map[int]Primitive[int, int]{1: plus(100)}, plus(200))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			got, err := r.Execute(t.Context(), i)
			assert.NoError(t, err)
			want := i + 200
			if i%2 == 1 {
				want = i + 100
			}
			assert.Equal(t, want, got)
		})
	}
	wg.Wait()
	assert.Equal(t, 10, calls)
}

func TestRouterMisuse(t *testing.T) {
	assert.PanicsWithValue(t,
		"tta: Router: key is nil; pass a func(In) K that picks the route for an input",
		func() { Router[int, int, string](nil, map[string]Primitive[int, int]{"a": plus(1)}, nil) })
	assert.PanicsWithValue(t,
		"tta: Router: route for key b is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() {
			Router(func(int) string { return "" }, map[string]Primitive[int, int]{"a": plus(1), "b": nil}, nil)
		})
	assert.PanicsWithValue(t,
		"tta: Router: route for key 3 is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() {
			Router(func(int) int { return 0 }, map[int]Primitive[int, int]{3: Func[int, int](nil)}, nil)
		})
}

func TestWhen(t *testing.T) {
	positive := func(n int) bool { return n > 0 }
	tests := []struct {
		name string
		in   int
		want int
	}{
		{name: "true runs then", in: 1, want: 101},
		{name: "false runs otherwise", in: -1, want: 199},
		{name: "boundary is false", in: 0, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			then, otherwise := &counter{}, &counter{}
			w := When(positive, Then[int, int, int](then, plus(99)), Then[int, int, int](otherwise, plus(199)))
			got, err := w.Execute(t.Context(), tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, 1, then.Calls()+otherwise.Calls(), "exactly one branch runs")
		})
	}
	t.Run("error passes through", func(t *testing.T) {
		_, err := When(positive, failWith(errBoom), plus(1)).Execute(t.Context(), 1)
		assert.Same(t, errBoom, err)
	})
}

func TestWhenMisuse(t *testing.T) {
	yes := func(int) bool { return true }
	assert.PanicsWithValue(t,
		"tta: When: cond is nil; pass a func(In) bool that chooses between then and otherwise",
		func() { When(nil, plus(1), plus(2)) })
	assert.PanicsWithValue(t,
		"tta: When: then is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { When(yes, nil, plus(2)) })
	assert.PanicsWithValue(t,
		"tta: When: otherwise is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)",
		func() { When(yes, plus(1), Func[int, int](nil)) })
}
