package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// BenchmarkExecute measures one stateless CodeExecutionPrimitive.Execute of
// `1+1` against the E2B-compatible server over loopback HTTP, with no
// injected latency (the scripted runtime answers the main result "2" at
// once), cold and from a warm pool:
//
//   - cold: no pool; the call creates a sandbox, probes its interpreter, runs
//     the code and kills the sandbox: 4 requests on the call's path.
//   - warm_pool: WithWarmPool(1); the call takes a ready sandbox and runs the
//     code: 1 request; the kill and the refill run in the background. The
//     timer is stopped between iterations while WaitWarm refills the pool, so
//     that every measured call finds a ready sandbox, as calls do when they
//     come more slowly than the pool refills.
//   - warm_pool_cycle: the same calls with the timer running while the pool
//     refills: ns/op and allocs/op are those of a whole cycle (the call, its
//     background kill, the refill's create and probe).
//
// Each also reports call-ns/op, the mean latency of the Execute calls alone,
// timed around the call. In warm_pool it matches ns/op; in warm_pool_cycle
// it is the call's latency without the stop-the-world pause with which
// StopTimer and StartTimer read memory statistics on every iteration, a pause
// that makes the next loopback request about 90 µs slower on a 2-core VM.
func BenchmarkExecute(b *testing.B) {
	for _, bc := range []struct {
		name      string
		warm      int
		stopTimer bool
	}{
		{"cold", 0, false},
		{"warm_pool", 1, true},
		{"warm_pool_cycle", 1, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := e2btest.Start(b, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
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
			ctx := context.Background()
			in := tta.CodeInput{Code: "1+1"}
			var calls time.Duration
			b.ReportAllocs()
			for b.Loop() {
				if bc.warm > 0 {
					if bc.stopTimer {
						b.StopTimer()
					}
					if err := exec.WaitWarm(ctx); err != nil {
						b.Fatal(err)
					}
					if bc.stopTimer {
						b.StartTimer()
					}
				}
				start := time.Now()
				out, err := exec.Execute(ctx, in)
				calls += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if len(out.Results) != 1 || out.Results[0].Text != "2" {
					b.Fatalf("results %+v, want one result \"2\"", out.Results)
				}
			}
			b.ReportMetric(float64(calls.Nanoseconds())/float64(b.N), "call-ns/op")
			if err := exec.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
