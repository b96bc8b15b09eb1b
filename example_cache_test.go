package tta_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tta-dev/tta"
)

func ExampleCache() {
	calls := 0
	embed := tta.Func[string, int](func(ctx context.Context, text string) (int, error) {
		calls++
		return len(strings.Fields(text)), nil // stands in for an expensive model call
	})
	// Inputs that differ only in case and surrounding space share one entry.
	normalise := func(text string) string { return strings.ToLower(strings.TrimSpace(text)) }
	cached := tta.Cache(embed, normalise, tta.TTL(time.Hour), tta.MaxEntries(1000))

	for _, text := range []string{"Hello sandbox world", "hello sandbox world ", "Kill every sandbox"} {
		n, err := cached.Execute(context.Background(), text)
		fmt.Printf("%q: %d words, err=%v\n", text, n, err)
	}
	fmt.Println("model called", calls, "times")
	// Output:
	// "Hello sandbox world": 3 words, err=<nil>
	// "hello sandbox world ": 3 words, err=<nil>
	// "Kill every sandbox": 3 words, err=<nil>
	// model called 2 times
}
