package tools_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/tools"
	"github.com/tta-dev/tta/ttatest"
)

// An agent framework registers each tool's name, description and schema, and
// calls the tool with the model's JSON arguments. The code's error comes back
// as a result whose IsError is set, for the model to read and fix.
func ExampleSet() {
	// The fake provider stands in for E2B or the local server (see package
	// local) so that the example needs no sandbox.
	fake := ttatest.NewFakeProvider()
	fake.Script("6 * 7", ttatest.Output{Results: []tta.Result{{IsMain: true, Text: "42"}}})
	fake.Script("6 * x", ttatest.Raise("NameError", "name 'x' is not defined"))
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake))
	if err != nil {
		panic(err)
	}
	defer exec.Close()
	set, err := tools.NewSet(exec)
	if err != nil {
		panic(err)
	}
	defer set.Close()

	var runCode tools.Tool
	for _, t := range set.Tools() {
		if t.Name == "run_code" {
			runCode = t
		}
	}
	for _, code := range []string{"6 * x", "6 * 7"} {
		args, _ := json.Marshal(map[string]string{"code": code})
		res := runCode.Call(context.Background(), args, nil)
		fmt.Printf("isError=%v: %s\n", res.IsError, res.Content[0].Text)
	}
	// Output:
	// isError=true: error: NameError: name 'x' is not defined
	// traceback:
	// Traceback (most recent call last):
	//   Cell In[1], line 1
	// NameError: name 'x' is not defined
	// isError=false: result:
	// 42
}
