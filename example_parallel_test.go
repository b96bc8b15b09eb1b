package tta_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tta-dev/tta"
)

// Ask several reviewers about the same snippet at once; the answers come back in
// the order the reviewers were given, whatever order they finish in.
func ExampleParallel() {
	reviewer := func(name string) tta.Primitive[string, string] {
		return tta.Func[string, string](func(ctx context.Context, code string) (string, error) {
			return fmt.Sprintf("%s: %d lines look fine", name, strings.Count(code, "\n")+1), nil
		})
	}
	review := tta.Parallel(reviewer("style"), reviewer("security"), reviewer("performance"))

	answers, err := review.Execute(context.Background(), "x = 1\nprint(x)")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, a := range answers {
		fmt.Println(a)
	}
	// Output:
	// style: 2 lines look fine
	// security: 2 lines look fine
	// performance: 2 lines look fine
}

// The first failure cancels the other branches and is returned as is.
func ExampleParallel_failure() {
	quotaExceeded := errors.New("quota exceeded")
	slow := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		<-ctx.Done() // waits until a sibling fails
		return 0, ctx.Err()
	})
	failing := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		return 0, quotaExceeded
	})

	out, err := tta.Parallel(slow, failing).Execute(context.Background(), 1)
	fmt.Println(out, err, errors.Is(err, quotaExceeded))
	// Output:
	// [] quota exceeded true
}

// A panicking branch fails the call with a *PanicError instead of crashing the
// program.
func ExampleParallel_panic() {
	buggy := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		var m map[string]int
		m["x"] = n // assignment to entry in nil map
		return n, nil
	})
	_, err := tta.Parallel(buggy).Execute(context.Background(), 1)

	var pe *tta.PanicError
	fmt.Println(errors.As(err, &pe))
	fmt.Println(err)
	// Output:
	// true
	// tta: panic: assignment to entry in nil map
}

// ParallelLimit bounds how many branches run at once, here to two sandboxes.
func ExampleParallelLimit() {
	square := tta.Func[int, int](func(ctx context.Context, n int) (int, error) { return n * n, nil })
	cube := tta.Func[int, int](func(ctx context.Context, n int) (int, error) { return n * n * n, nil })
	negate := tta.Func[int, int](func(ctx context.Context, n int) (int, error) { return -n, nil })

	out, err := tta.ParallelLimit(2, square, cube, negate).Execute(context.Background(), 3)
	fmt.Println(out, err)
	// Output:
	// [9 27 -3] <nil>
}
