package tta_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tta-dev/tta"
)

// Timeout bounds a call; its own expiry is an ErrTimeout that also matches
// context.DeadlineExceeded, while the caller's cancellation stays what it was.
func ExampleTimeout() {
	// answer stands for a model call that honours its context and never
	// finishes in time.
	answer := tta.Func[string, string](func(ctx context.Context, question string) (string, error) {
		<-ctx.Done()
		return "", context.Cause(ctx)
	})

	// A real flow allows seconds; a nanosecond lets the example end at once.
	_, err := tta.Timeout(answer, time.Nanosecond).Execute(context.Background(), "why?")
	fmt.Println(err)
	fmt.Println(errors.Is(err, tta.ErrTimeout), errors.Is(err, context.DeadlineExceeded))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller gives up first
	_, err = tta.Timeout(answer, time.Minute).Execute(ctx, "why?")
	fmt.Println(err)
	fmt.Println(errors.Is(err, tta.ErrTimeout))
	// Output:
	// tta: timeout after 1ns
	// true true
	// context canceled
	// false
}
