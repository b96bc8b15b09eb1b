package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
)

// The start-up benchmarks measure what a sandbox's start costs a caller:
// creating a local sandbox and getting its first Python result, alone and in
// bursts, and what a warm pool saves where a start costs what it really
// costs.

// createFirstExec creates a local sandbox, runs 1+1 until the result is
// back, and returns how long that took; the kill is not counted.
func createFirstExec(b *testing.B, client *e2b.Client) time.Duration {
	ctx := context.Background()
	start := time.Now()
	sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: time.Minute})
	if err != nil {
		b.Error(err)
		return 0
	}
	exec, err := sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
	d := time.Since(start)
	if err != nil || exec.Text() != "2" {
		b.Errorf("run code: %v, %+v", err, exec)
	}
	if _, err := sbx.Kill(ctx); err != nil {
		b.Error(err)
	}
	return d
}

// BenchmarkLocalCreateFirstExecBurst starts bursts of 20 local sandboxes at
// once, each created and running its first 1+1, and reports percentiles of
// the single starts (p50-ms, p95-ms, p99-ms) and the burst's wall time
// (burst-ms, the mean over bursts).
func BenchmarkLocalCreateFirstExecBurst(b *testing.B) {
	testenv.RequireTools(b, "python3")
	const burst = 20
	client := localClient(b)
	var (
		mu    sync.Mutex
		ds    []time.Duration
		walls time.Duration
	)
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() {
				d := createFirstExec(b, client)
				mu.Lock()
				ds = append(ds, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		walls += time.Since(start)
	}
	reportPercentiles(b, ds)
	b.ReportMetric(float64(walls)/float64(b.N)/float64(time.Millisecond), "burst-ms")
}

// BenchmarkLocalFiftySandboxes creates fifty local sandboxes at once, runs a
// Python execution in each and reports the wall time until all fifty have
// answered (wall-ms).
func BenchmarkLocalFiftySandboxes(b *testing.B) {
	testenv.RequireTools(b, "python3")
	const n = 50
	client := localClient(b)
	var walls time.Duration
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { createFirstExec(b, client) })
		}
		wg.Wait()
		walls += time.Since(start)
	}
	b.ReportMetric(float64(walls)/float64(b.N)/float64(time.Millisecond), "wall-ms")
}

// BenchmarkWarmPoolSpeedup compares a cold CodeExecutionPrimitive.Execute of
// 1+1 (create, wait for the interpreter, run, kill) with one from a warm
// pool (WithWarmPool(1): the run alone), timed in the same iterations once
// the pool is full, where a start costs what it really costs:
//
//   - local: the local runtime, real Python kernels;
//   - injected: the E2B-compatible server with E2B-like latency, 300 ms
//     held on every create and the interpreter port opening 200 ms after it.
//
// It reports cold-ns/call, warm-ns/call and cold/warm.
func BenchmarkWarmPoolSpeedup(b *testing.B) {
	b.Run("local", func(b *testing.B) {
		testenv.RequireTools(b, "python3")
		client := localClient(b)
		live := func() []string {
			page, err := client.List(context.Background(), e2b.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			var ids []string
			for _, sb := range page.Sandboxes {
				ids = append(ids, sb.ID)
			}
			return ids
		}
		cold := testenv.NewExec(b, live, tta.WithE2BClient(client))
		warm := testenv.NewExec(b, live, tta.WithE2BClient(client), tta.WithWarmPool(1))
		coldVsWarm(b, cold, warm)
	})
	b.Run("injected", func(b *testing.B) {
		tpl := e2bserver.DefaultTemplates()[0]
		tpl.Faults.ReadyAfter = 200 * time.Millisecond
		env := e2btest.Start(b,
			e2bserver.WithTemplates(tpl),
			e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}}}),
			e2bserver.WithFaults(e2bserver.Fault{Op: e2bserver.OpCreate, Delay: 300 * time.Millisecond}))
		cold := testenv.ServerExec(b, env)
		warm := testenv.ServerExec(b, env, tta.WithWarmPool(1))
		coldVsWarm(b, cold, warm)
	})
}

// coldVsWarm times a warm call and a cold one in each iteration, each once
// the pool is full again, and reports their means and ratio.
func coldVsWarm(b *testing.B, cold, warm *tta.CodeExecutionPrimitive) {
	ctx := context.Background()
	execute := func(exec *tta.CodeExecutionPrimitive) {
		out, err := exec.Execute(ctx, tta.CodeInput{Code: "1+1"})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Results) != 1 || out.Results[0].Text != "2" {
			b.Fatalf("results %+v, want one result \"2\"", out.Results)
		}
	}
	var lat coldWarm
	for b.Loop() {
		if err := warm.WaitWarm(ctx); err != nil {
			b.Fatal(err)
		}
		lat.timeWarm(func() { execute(warm) })
		if err := warm.WaitWarm(ctx); err != nil {
			b.Fatal(err)
		}
		lat.timeCold(func() { execute(cold) })
	}
	lat.report(b)
}
