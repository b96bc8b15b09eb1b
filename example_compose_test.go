package tta_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tta-dev/tta"
)

// Then chains primitives of different types: the compiler checks that each
// output fits the next input.
func ExampleThen() {
	parse := tta.Func[string, int](func(ctx context.Context, s string) (int, error) {
		return strconv.Atoi(s)
	})
	describe := tta.Func[int, string](func(ctx context.Context, n int) (string, error) {
		return fmt.Sprintf("%d squared is %d", n, n*n), nil
	})
	flow := tta.Then(parse, describe)

	out, err := flow.Execute(context.Background(), "12")
	fmt.Println(out, err)
	_, err = flow.Execute(context.Background(), "twelve")
	fmt.Println(err)
	// Output:
	// 12 squared is 144 <nil>
	// strconv.Atoi: parsing "twelve": invalid syntax
}

// Sequence runs same-typed steps in order, each on the previous one's output.
func ExampleSequence() {
	step := func(f func(string) string) tta.Primitive[string, string] {
		return tta.Func[string, string](func(ctx context.Context, s string) (string, error) { return f(s), nil })
	}
	clean := tta.Sequence(
		step(strings.TrimSpace),
		step(strings.ToLower),
		step(func(s string) string { return strings.ReplaceAll(s, " ", "-") }),
	)

	out, err := clean.Execute(context.Background(), "  My Agent Workflow ")
	fmt.Println(out, err)
	// Output:
	// my-agent-workflow <nil>
}

// Compositions nest: parse, then run two analyses in parallel, then summarise.
func ExampleThen_composed() {
	parse := tta.Func[string, []string](func(ctx context.Context, s string) ([]string, error) {
		return strings.Fields(s), nil
	})
	count := tta.Func[[]string, int](func(ctx context.Context, words []string) (int, error) {
		return len(words), nil
	})
	longest := tta.Func[[]string, int](func(ctx context.Context, words []string) (int, error) {
		n := 0
		for _, w := range words {
			n = max(n, len(w))
		}
		return n, nil
	})
	summarise := tta.Func[[]int, string](func(ctx context.Context, r []int) (string, error) {
		return fmt.Sprintf("%d words, longest %d letters", r[0], r[1]), nil
	})
	flow := tta.Then(tta.Then(parse, tta.Parallel(count, longest)), summarise)

	out, err := flow.Execute(context.Background(), "sandboxes survive failures gracefully")
	fmt.Println(out, err)
	// Output:
	// 4 words, longest 10 letters <nil>
}
