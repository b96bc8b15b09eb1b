package tta_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tta-dev/tta"
)

// A flaky step fails twice and succeeds on its third attempt; OnRetry reports
// each failure before Retry waits and tries again.
func ExampleRetry() {
	attempts := 0
	probe := tta.Func[string, string](func(ctx context.Context, sandbox string) (string, error) {
		attempts++
		if attempts < 3 {
			return "", errors.New("502: the sandbox is running but port is not open")
		}
		return sandbox + " ready", nil
	})
	flow := tta.Retry(probe,
		tta.MaxAttempts(4),
		tta.InitialInterval(0), // keeps the example instant; real code waits 100ms, 200ms, ...
		tta.OnRetry(func(ev tta.RetryEvent) {
			fmt.Printf("attempt %d failed: %v\n", ev.Attempt, ev.Err)
		}),
	)

	out, err := flow.Execute(context.Background(), "sbx-42")
	fmt.Println(out, err)
	fmt.Println("attempts:", attempts)
	// Output:
	// attempt 1 failed: 502: the sandbox is running but port is not open
	// attempt 2 failed: 502: the sandbox is running but port is not open
	// sbx-42 ready <nil>
	// attempts: 3
}

// When every attempt fails, Retry returns a *RetryError that counts the
// attempts and unwraps to the last error.
func ExampleRetryError() {
	errBusy := errors.New("429 too many requests")
	call := tta.Func[string, string](func(ctx context.Context, prompt string) (string, error) {
		return "", errBusy
	})
	_, err := tta.Retry(call, tta.MaxAttempts(3), tta.InitialInterval(0)).Execute(context.Background(), "hi")

	var re *tta.RetryError
	if errors.As(err, &re) {
		fmt.Println("attempts:", re.Attempts)
	}
	fmt.Println(errors.Is(err, errBusy))
	// Output:
	// attempts: 3
	// true
}

// Permanent stops retrying at once: an error in the user's own code will not go
// away by running it again.
func ExamplePermanent() {
	attempts := 0
	run := tta.Func[string, string](func(ctx context.Context, code string) (string, error) {
		attempts++
		return "", tta.Permanent(errors.New("NameError: name 'x' is not defined"))
	})
	_, err := tta.Retry(run, tta.MaxAttempts(5)).Execute(context.Background(), "print(x)")
	fmt.Println(err)
	fmt.Println("attempts:", attempts)
	// Output:
	// NameError: name 'x' is not defined
	// attempts: 1
}
