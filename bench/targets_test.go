package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
)

// The allocation targets are deterministic, so they are asserted here and a
// regression fails `go test`. The speed targets are ratios of timings and are
// left to the benchmarks (see README.md): a timed assertion would fail on a
// busy machine and pass on a broken one.

// allocsPerCall is the average number of heap allocations of one call of f,
// after a first call that may build state lazily.
func allocsPerCall(f func()) float64 {
	f()
	return testing.AllocsPerRun(200, f)
}

// executeOnce returns a func that calls p once and fails t on error.
func executeOnce(t *testing.T, p tta.Primitive[int, int]) func() {
	return executeOnceWith(t, context.Background(), p)
}

// executeOnceWith is executeOnce with ctx.
func executeOnceWith(t *testing.T, ctx context.Context, p tta.Primitive[int, int]) func() {
	return func() {
		if _, err := p.Execute(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllocationTargets(t *testing.T) {
	failsafeChain := failsafeChain4()
	tests := []struct {
		name string
		tta  func() // one call of tta's implementation
		// Without a baseline, tta may allocate at most max times per call;
		// with one, at most the baseline's allocations divided by div.
		max      float64
		baseline func()
		div      float64
	}{
		{
			name: "RetryHappy allocates nothing",
			tta:  executeOnce(t, ttaRetry(tta.Func[int, int](op))),
			max:  0,
		},
		{
			name: "CacheHit allocates nothing",
			tta:  executeOnce(t, ttaCache()),
			max:  0,
		},
		{
			name: "Chain4 allocates at most a third of what failsafe-go does",
			tta:  executeOnce(t, ttaChain4()),
			baseline: func() {
				if _, err := failsafeChain.GetWithExecution(failsafeOpCtx); err != nil {
					t.Fatal(err)
				}
			},
			div: 3,
		},
		{
			name:     "Chain4 with a no-op Telemetry allocates no more than without",
			tta:      executeOnceWith(t, tta.ContextWithTelemetry(context.Background(), noopTelemetry(t)), ttaChain4()),
			baseline: executeOnce(t, ttaChain4()),
			div:      1,
		},
		{
			name: "RetryHappy with a no-op Telemetry allocates nothing",
			tta:  executeOnceWith(t, tta.ContextWithTelemetry(context.Background(), noopTelemetry(t)), ttaRetry(tta.Func[int, int](op))),
			max:  0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.max
			if tt.baseline != nil {
				base := allocsPerCall(tt.baseline)
				require.Positive(t, base, "the baseline must allocate for the ratio to mean anything")
				limit = base / tt.div
			}
			got := allocsPerCall(tt.tta)
			require.LessOrEqualf(t, got, limit, "tta allocates %v times per call; the target is at most %v", got, limit)
		})
	}
}
