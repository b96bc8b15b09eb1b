package tta_test

import (
	"context"
	"testing"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// BenchmarkExecuteInMemory measures one stateless Execute against the
// E2B-compatible server over an in-memory network with no injected latency:
// cold (create, readiness probe, run and kill on the call's path) and from a
// warm pool that WaitWarm refills, timer stopped, between calls (run only;
// kill and refill happen in the background). The loopback figures, the ones
// the README quotes, come from BenchmarkExecute in module bench.
func BenchmarkExecuteInMemory(b *testing.B) {
	for _, bc := range []struct {
		name string
		warm int
	}{
		{"cold", 0},
		{"warm_pool", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := e2btest.StartInMemory(b, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
				Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
			}))
			opts := []tta.Option{tta.WithE2BClient(env.Client)}
			if bc.warm > 0 {
				opts = append(opts, tta.WithWarmPool(bc.warm))
			}
			exec, err := tta.NewCodeExecution(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Close()
			ctx := context.Background()
			in := tta.CodeInput{Code: "1+1"}
			for b.Loop() {
				if bc.warm > 0 {
					b.StopTimer()
					if err := exec.WaitWarm(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				out, err := exec.Execute(ctx, in)
				if err != nil || len(out.Results) != 1 {
					b.Fatal(out, err)
				}
			}
		})
	}
}
