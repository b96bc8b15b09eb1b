package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
)

// BenchmarkExecute measures one stateless CodeExecutionPrimitive.Execute of
// `1+1` against the E2B-compatible server over loopback HTTP, with no
// injected latency (the scripted runtime answers the main result "2" at
// once), cold and from a warm pool:
//
//   - cold: no pool; the call creates a sandbox, probes its interpreter, runs
//     the code and kills the sandbox: 4 requests on the call's path.
//   - warm_pool: WithWarmPool(1); the call takes a ready sandbox and runs the
//     code: 1 request; the kill and the refill run in the background, and
//     WaitWarm waits for the refill before the next call. ns/op and allocs/op
//     are a whole cycle (the call, its background kill, the refill's create
//     and probe); call-ns/op is the call alone.
//   - cold_vs_warm: each iteration makes a warm call and then a cold one, each
//     timed alone once the pool is full again, so that both see the same load
//     on a shared machine; it reports cold-ns/call, warm-ns/call and their
//     ratio, cold/warm.
//
// The timer is never stopped: StopTimer and StartTimer read memory statistics
// with a stop-the-world pause, which makes the next loopback request about
// 90 µs slower on a 2-core VM.
func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	in := tta.CodeInput{Code: "1+1"}
	execute := func(b *testing.B, exec *tta.CodeExecutionPrimitive) {
		out, err := exec.Execute(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Results) != 1 || out.Results[0].Text != "2" {
			b.Fatalf("results %+v, want one result \"2\"", out.Results)
		}
	}
	waitWarm := func(b *testing.B, exec *tta.CodeExecutionPrimitive) {
		if err := exec.WaitWarm(ctx); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("cold", func(b *testing.B) {
		cold := newExecution(b, 0)
		b.ReportAllocs()
		for b.Loop() {
			execute(b, cold)
		}
	})
	b.Run("warm_pool", func(b *testing.B) {
		warm := newExecution(b, 1)
		var calls time.Duration
		b.ReportAllocs()
		for b.Loop() {
			waitWarm(b, warm)
			start := time.Now()
			execute(b, warm)
			calls += time.Since(start)
		}
		b.ReportMetric(float64(calls.Nanoseconds())/float64(b.N), "call-ns/op")
	})
	b.Run("cold_vs_warm", func(b *testing.B) {
		cold, warm := newExecution(b, 0), newExecution(b, 1)
		var lat coldWarm
		for b.Loop() {
			waitWarm(b, warm)
			lat.timeWarm(func() { execute(b, warm) })
			// The refill is done; the background kill, one request started
			// with the refill's two, has almost always ended too.
			waitWarm(b, warm)
			lat.timeCold(func() { execute(b, cold) })
		}
		lat.report(b)
	})
}

// newExecution returns a CodeExecutionPrimitive on a new E2B-compatible
// server whose scripted runtime answers `1+1` with "2", with a warm pool of
// size warm (0: none). Cleanup closes it and checks that no sandbox is left.
func newExecution(b *testing.B, warm int) *tta.CodeExecutionPrimitive {
	env := e2btest.Start(b, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
		Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
	}))
	var opts []tta.Option
	if warm > 0 {
		opts = append(opts, tta.WithWarmPool(warm))
	}
	return testenv.ServerExec(b, env, opts...)
}

// coldWarm accumulates the latencies of cold and warm calls timed in the same
// iterations.
type coldWarm struct {
	cold, warm time.Duration
	n          int
}

func (c *coldWarm) timeCold(call func()) { c.cold += timed(call); c.n++ }
func (c *coldWarm) timeWarm(call func()) { c.warm += timed(call) }

func timed(call func()) time.Duration {
	start := time.Now()
	call()
	return time.Since(start)
}

// report reports the mean latencies and their ratio.
func (c *coldWarm) report(b *testing.B) {
	if c.n == 0 || c.warm == 0 {
		return
	}
	b.ReportMetric(float64(c.cold.Nanoseconds())/float64(c.n), "cold-ns/call")
	b.ReportMetric(float64(c.warm.Nanoseconds())/float64(c.n), "warm-ns/call")
	b.ReportMetric(float64(c.cold)/float64(c.warm), "cold/warm")
}
