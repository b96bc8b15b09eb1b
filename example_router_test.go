package tta_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tta-dev/tta"
)

type job struct {
	Language string
	Code     string
}

func runner(name string) tta.Primitive[job, string] {
	return tta.Func[job, string](func(ctx context.Context, j job) (string, error) {
		return name + " runs " + j.Code, nil
	})
}

// Route each job to the runner for its language; with no default, an unknown
// language is an error that matches ErrNoRoute.
func ExampleRouter() {
	byLanguage := tta.Router(
		func(j job) string { return j.Language },
		map[string]tta.Primitive[job, string]{
			"python": runner("python3"),
			"js":     runner("node"),
		},
		nil, // no default
	)

	for _, j := range []job{{"python", "print(1)"}, {"js", "console.log(1)"}, {"cobol", "DISPLAY 1"}} {
		out, err := byLanguage.Execute(context.Background(), j)
		if errors.Is(err, tta.ErrNoRoute) {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(out)
	}
	// Output:
	// python3 runs print(1)
	// node runs console.log(1)
	// error: tta: no route for key cobol
}

// When chooses between two primitives with a predicate.
func ExampleWhen() {
	needsGPU := func(j job) bool { return strings.Contains(j.Code, "torch") }
	run := tta.When(needsGPU, runner("gpu sandbox"), runner("cpu sandbox"))

	for _, code := range []string{"import torch", "print(2+2)"} {
		out, _ := run.Execute(context.Background(), job{"python", code})
		fmt.Println(out)
	}
	// Output:
	// gpu sandbox runs import torch
	// cpu sandbox runs print(2+2)
}
