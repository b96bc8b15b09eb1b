package tta_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta"
)

func ExampleCircuitBreaker() {
	calls := 0
	search := tta.Func[string, string](func(ctx context.Context, query string) (string, error) {
		calls++
		return "", errors.New("503 service unavailable")
	})
	breaker := tta.CircuitBreaker(search,
		tta.FailureThreshold(2),
		tta.OpenDuration(time.Minute),
		tta.OnStateChange(func(from, to tta.BreakerState) {
			fmt.Println("circuit:", from, "->", to)
		}),
	)

	for i := 1; i <= 4; i++ {
		_, err := breaker.Execute(context.Background(), "sandbox pricing")
		if errors.Is(err, tta.ErrCircuitOpen) {
			fmt.Printf("call %d: rejected without calling search\n", i)
			continue
		}
		fmt.Printf("call %d: %v\n", i, err)
	}
	fmt.Println("search called", calls, "times; state:", breaker.State())
	// Output:
	// call 1: 503 service unavailable
	// circuit: closed -> open
	// call 2: 503 service unavailable
	// call 3: rejected without calling search
	// call 4: rejected without calling search
	// search called 2 times; state: open
}
