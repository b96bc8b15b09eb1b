package tta_test

import (
	"context"
	"testing"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// BenchmarkExecute measures one stateless Execute against the E2B-compatible
// server over an in-memory network with no injected latency: cold (create,
// readiness probe, run, kill on the call's path) and from a warm pool (run and
// kill; create and probe happen in the background).
func BenchmarkExecute(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []tta.Option
	}{
		{"cold", nil},
		{"warm_pool", []tta.Option{tta.WithWarmPool(4)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := e2btest.StartInMemory(b, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
				Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
			}))
			exec, err := tta.NewCodeExecution(append([]tta.Option{tta.WithE2BClient(env.Client)}, bc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Close()
			in := tta.CodeInput{Code: "1+1"}
			for b.Loop() {
				out, err := exec.Execute(context.Background(), in)
				if err != nil || len(out.Results) != 1 {
					b.Fatal(out, err)
				}
			}
		})
	}
}
