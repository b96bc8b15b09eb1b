package tta_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tta-dev/tta"
)

func ExampleBulkhead() {
	started := make(chan struct{})
	finish := make(chan struct{})
	run := tta.Func[string, string](func(ctx context.Context, code string) (string, error) {
		if code == "train()" {
			close(started)
			<-finish
		}
		return "ran " + code, nil
	})
	// One sandbox at a time, and shed load rather than queue it.
	limited := tta.Bulkhead(run, 1, tta.QueueSize(0))

	done := make(chan string)
	go func() {
		out, _ := limited.Execute(context.Background(), "train()")
		done <- out
	}()
	<-started

	_, err := limited.Execute(context.Background(), "print(1)")
	fmt.Println(err)
	fmt.Println("bulkhead full:", errors.Is(err, tta.ErrBulkheadFull))

	close(finish)
	fmt.Println(<-done)
	out, err := limited.Execute(context.Background(), "print(1)")
	fmt.Println(out, err)
	// Output:
	// tta: bulkhead full: limit 1 reached and waiting not allowed (queue size 0)
	// bulkhead full: true
	// ran train()
	// ran print(1) <nil>
}
