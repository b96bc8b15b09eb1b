package tta_test

import (
	"context"
	"fmt"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/ttatest"
)

// Keep a burst of calls within E2B's Hobby plan (20 sandboxes, 1 create per
// second): the calls past the limit wait their turn instead of failing. Give
// several primitives on one account the same tta.LimitCreates provider
// instead, so that they share the limit.
func ExampleWithCreateLimit() {
	p := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithCreateLimit(tta.HobbyPlan))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("within the plan")`})
	fmt.Print(out.Stdout)
	fmt.Println(err, tta.HobbyPlan)
	// Output:
	// within the plan
	// <nil> 20 sandboxes, 1 create/s
}

// Name the owner of the sandboxes, so that those a crash leaves behind can be
// found and killed: by `tta reap --owner billing-svc`, or at the next start
// with tta.WithReapAtStart (on E2B).
func ExampleWithOwner() {
	p := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithOwner("billing-svc"))
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
	md := p.Sandbox(out.SandboxID).Metadata()
	fmt.Println(err, md[e2b.MetadataOwner], md[e2b.MetadataPurpose], md[e2b.MetadataProcess] == e2b.ProcessLabel())
	// Output:
	// <nil> billing-svc execute true
}
