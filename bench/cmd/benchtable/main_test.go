package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/tta-dev/tta/bench
cpu: AMD EPYC
BenchmarkRetryHappy
BenchmarkRetryHappy/tta-2          	 3692078	        60.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkRetryHappy/failsafe-2     	  547885	       400.0 ns/op	     416 B/op	      14 allocs/op
BenchmarkRetryHappy/tta-2          	 3692078	        70.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkRetryHappy/failsafe-2     	  547885	       500.0 ns/op	     416 B/op	      14 allocs/op
BenchmarkRetryHappy/tta-2          	 3692078	        99.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkRetryHappy/failsafe-2     	  547885	       450.0 ns/op	     416 B/op	      14 allocs/op
BenchmarkTimeoutHappy/tta-2        	  516630	       700.0 ns/op	     272 B/op	       4 allocs/op
BenchmarkTimeoutHappy/stdlib-2     	  432529	       500.0 ns/op	     272 B/op	       4 allocs/op
BenchmarkCacheHit/tta              	11193824	        20.39 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/tta-dev/tta/bench	3.477s
`

func TestParse(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	require.Len(t, results, 5)
	assert.Equal(t, &result{Case: "RetryHappy", Impl: "tta",
		NsOp: []float64{60, 70, 99}, BytesOp: []float64{0, 0, 0}, AllocsOp: []float64{0, 0, 0}}, results[0])
	assert.Equal(t, "failsafe", results[1].Impl)
	assert.Equal(t, []float64{20.39}, results[4].NsOp, "a name without -N keeps its last element")
}

func TestParseRejectsMalformedValue(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkX/a-2 100 fast ns/op\n"))
	require.ErrorContains(t, err, `value "fast"`)
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, -1},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, median(tt.in), "median(%v)", tt.in)
	}
}

func TestTrimProcs(t *testing.T) {
	tests := map[string]string{
		"Chain4/tta-2":    "Chain4/tta",
		"Chain4/tta":      "Chain4/tta",
		"Case/fail-safe":  "Case/fail-safe",
		"Case/impl-16":    "Case/impl",
		"NoSub-8":         "NoSub",
		"Case/impl-2-x-4": "Case/impl-2-x",
	}
	for in, want := range tests {
		assert.Equal(t, want, trimProcs(in), in)
	}
}

func TestRender(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	var b strings.Builder
	missed := render(&b, results, defaultBaselines, defaultTargets)
	out := b.String()

	// RetryHappy: tta median 70 over failsafe median 450 is 0.16x: met.
	assert.Contains(t, out, "| RetryHappy | tta | 70.0 | 0 | 0 | 0.16x | 0.00x | ≤ 0.20x ns, 0 allocs | yes |")
	assert.Contains(t, out, "| RetryHappy | failsafe * | 450.0 | 416 | 14 | — | — | — | — |")
	// TimeoutHappy: 700/500 = 1.40x > 1.25x: missed.
	assert.Contains(t, out, "| TimeoutHappy | tta | 700.0 | 272 | 4 | 1.40x | 1.00x | ≤ 1.25x ns | **no** |")
	// CacheHit has no baseline, and its target needs none.
	assert.Contains(t, out, "| CacheHit | tta | 20.4 | 0 | 0 | — | — | 0 allocs | yes |")
	assert.Contains(t, out, "Medians of 3 runs.")
	assert.Equal(t, 1, missed)
}

func TestRenderWithoutBaselineCannotDecideRatio(t *testing.T) {
	results, err := parse(strings.NewReader("BenchmarkChain4/tta-2 10 500 ns/op 272 B/op 4 allocs/op\n"))
	require.NoError(t, err)
	var b strings.Builder
	missed := render(&b, results, defaultBaselines, defaultTargets)
	assert.Contains(t, b.String(), "| unknown (no baseline) |")
	assert.Zero(t, missed, "an undecided target is not counted as missed")
}

func TestRenderRunCodeAgainstRawHTTP(t *testing.T) {
	results, err := parse(strings.NewReader(
		"BenchmarkRunCode/tta_e2b-2 10 145000 ns/op 16021 B/op 176 allocs/op\n" +
			"BenchmarkRunCode/raw_http-2 10 132000 ns/op 17314 B/op 158 allocs/op\n"))
	require.NoError(t, err)
	var b strings.Builder
	missed := render(&b, results, defaultBaselines, defaultTargets)
	// 145000/132000 = 1.10x <= 1.20x: met, with raw_http as the built-in baseline.
	assert.Contains(t, b.String(), "| RunCode | tta_e2b | 145000 | 16021 | 176 | 1.10x | 1.11x | ≤ 1.20x ns | yes |")
	assert.Contains(t, b.String(), "| RunCode | raw_http * |")
	assert.Zero(t, missed)
}
