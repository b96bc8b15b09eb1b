package bench

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2bserver/localrt"
	"github.com/tta-dev/tta/internal/testenv"
)

// The local sandbox benchmarks measure what `tta serve` and `tta run` do on
// this machine: package e2b's client talking HTTP over a loopback socket to
// an e2bserver.Server whose sandboxes are local processes (package localrt).
// They report percentiles of the per-operation wall time as metrics (p50-ms,
// p95-ms), since a mean hides the tail that matters for sandbox starts.

const benchKey = "e2b_0123456789abcdef0123456789abcdef01234567"

// localClient serves a local runtime on a loopback socket, as tta serve does,
// and returns a client of it. Cleanup kills every sandbox.
func localClient(b testing.TB, opts ...localrt.Option) *e2b.Client {
	b.Helper()
	rt, err := localrt.New(append([]localrt.Option{localrt.WithRoot(b.TempDir())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := e2bserver.New(e2bserver.WithRuntime(rt), e2bserver.WithAPIKey(benchKey))
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	client, err := e2b.NewClient(e2b.WithAPIKey(benchKey), e2b.WithAPIURL(ts.URL), e2b.WithSandboxURL(ts.URL))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		client.CloseIdleConnections()
		if err := srv.Close(); err != nil {
			b.Error(err)
		}
		ts.Close()
		if err := rt.Close(); err != nil {
			b.Error(err)
		}
	})
	return client
}

// reportPercentiles reports the 50th, 95th and 99th percentiles of ds in
// milliseconds.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.5) - 1
		i = max(0, min(i, len(ds)-1))
		return float64(ds[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkLocalCreateFirstExec measures a local sandbox's create plus its
// first Python execution (1+1), until the result is back: what a stateless
// tta run costs before the user's code runs. The kill is not timed.
//
//   - fork_server: the kernel is forked from the Runtime's fork server (a
//     root server's default);
//   - new_process: every kernel is a new python3 process
//     (localrt.WithoutForkServer), as before the fork server and without root;
//   - interleaved: one of each per iteration, so that both see the same load,
//     reporting their p50s and new/fork, how many times faster forking is.
func BenchmarkLocalCreateFirstExec(b *testing.B) {
	testenv.RequireTools(b, "python3")
	b.Run("fork_server", func(b *testing.B) {
		client := localClient(b)
		var ds []time.Duration
		for b.Loop() {
			ds = append(ds, createFirstExec(b, client))
		}
		reportPercentiles(b, ds)
	})
	b.Run("new_process", func(b *testing.B) {
		client := localClient(b, localrt.WithoutForkServer())
		var ds []time.Duration
		for b.Loop() {
			ds = append(ds, createFirstExec(b, client))
		}
		reportPercentiles(b, ds)
	})
	b.Run("interleaved", func(b *testing.B) {
		fork, fresh := localClient(b), localClient(b, localrt.WithoutForkServer())
		var fds, nds []time.Duration
		for b.Loop() {
			fds = append(fds, createFirstExec(b, fork))
			nds = append(nds, createFirstExec(b, fresh))
		}
		f, n := median(fds), median(nds)
		b.ReportMetric(f, "fork-p50-ms")
		b.ReportMetric(n, "new-p50-ms")
		if f > 0 {
			b.ReportMetric(n/f, "new/fork")
		}
	})
}

// median returns the median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// BenchmarkLocalExec compares running Python's 1+1 on a ready context (a
// persistent interpreter, reached over HTTP as E2B's SDKs reach it) with
// spawning a new python3 process per execution.
func BenchmarkLocalExec(b *testing.B) {
	testenv.RequireTools(b, "python3")
	ctx := context.Background()
	b.Run("ready_context", func(b *testing.B) {
		client := localClient(b)
		sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: 10 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sbx.RunCode(ctx, "0", e2b.RunCodeOptions{}); err != nil { // wait for the kernel
			b.Fatal(err)
		}
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			exec, err := sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
			ds = append(ds, time.Since(start))
			if err != nil || exec.Text() != "2" {
				b.Fatalf("run code: %v, %+v", err, exec)
			}
		}
		reportPercentiles(b, ds)
	})
	b.Run("new_process", func(b *testing.B) {
		// The interpreter itself, not a wrapper such as a pyenv shim, which
		// would add its own start-up time to every execution.
		path, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		if err != nil {
			b.Fatal(err)
		}
		python := strings.TrimSpace(string(path))
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			out, err := exec.Command(python, "-c", "print(1+1)").Output()
			ds = append(ds, time.Since(start))
			if err != nil || string(out) != "2\n" {
				b.Fatalf("python3: %v, %q", err, out)
			}
		}
		reportPercentiles(b, ds)
	})
}
