// Command benchtable turns the output of `go test -bench -benchmem` into a
// Markdown table that compares, case by case, each implementation with the
// baseline implementation of that case, and says whether tta's targets are met.
//
// Benchmarks must be named Benchmark<Case>/<impl>; the "-N" GOMAXPROCS suffix
// is ignored. With -count > 1 every figure is the median of the runs. Usage:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./... | go run ./cmd/benchtable
//
// The baselines and targets of the tta benchmarks are built in; -baseline
// overrides the baseline of a case (-baseline Chain4=failsafe,TimeoutHappy=stdlib).
// With -strict, benchtable exits with status 1 when a target is not met.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// result holds the runs of one sub-benchmark.
type result struct {
	Case, Impl string
	NsOp       []float64
	BytesOp    []float64
	AllocsOp   []float64
}

// target is a goal for one implementation of a case. Zero fields set no goal.
type target struct {
	Case, Impl     string
	MaxNsRatio     float64 // ns/op at most this times the baseline's
	MaxAllocsRatio float64 // allocs/op at most this times the baseline's
	ZeroAllocs     bool    // allocs/op must be 0
}

// String describes the target for the table, such as "≤ 0.20x ns, 0 allocs".
func (t target) String() string {
	var parts []string
	if t.MaxNsRatio > 0 {
		parts = append(parts, "≤ "+formatRatio(t.MaxNsRatio)+" ns")
	}
	if t.MaxAllocsRatio > 0 {
		parts = append(parts, "≤ "+formatRatio(t.MaxAllocsRatio)+" allocs")
	}
	if t.ZeroAllocs {
		parts = append(parts, "0 allocs")
	}
	return strings.Join(parts, ", ")
}

var defaultBaselines = map[string]string{
	"RetryHappy":      "failsafe",
	"RetryOneFailure": "failsafe",
	"TimeoutHappy":    "stdlib",
	"Chain4":          "failsafe",
	"Chain4Telemetry": "off",
	"Parallel8":       "errgroup",
	"RunCode":         "raw_http",
}

var defaultTargets = []target{
	{Case: "RetryHappy", Impl: "tta", MaxNsRatio: 0.2, ZeroAllocs: true},
	{Case: "TimeoutHappy", Impl: "tta", MaxNsRatio: 1.25},
	{Case: "Chain4", Impl: "tta", MaxNsRatio: 0.5, MaxAllocsRatio: 1.0 / 3},
	{Case: "Chain4Telemetry", Impl: "noop", MaxNsRatio: 1.1, MaxAllocsRatio: 1},
	{Case: "CacheHit", Impl: "tta", ZeroAllocs: true},
	{Case: "RunCode", Impl: "tta_e2b", MaxNsRatio: 1.2},
}

func main() {
	baselineFlag := flag.String("baseline", "", "comma-separated Case=impl pairs overriding the built-in baselines")
	strict := flag.Bool("strict", false, "exit with status 1 when a target is not met")
	flag.Parse()

	baselines := make(map[string]string, len(defaultBaselines))
	for k, v := range defaultBaselines {
		baselines[k] = v
	}
	if *baselineFlag != "" {
		for pair := range strings.SplitSeq(*baselineFlag, ",") {
			c, impl, ok := strings.Cut(pair, "=")
			if !ok || c == "" || impl == "" {
				fmt.Fprintf(os.Stderr, "benchtable: -baseline: %q is not Case=impl\n", pair)
				os.Exit(2)
			}
			baselines[c] = impl
		}
	}

	results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results with ns/op on stdin")
		os.Exit(1)
	}
	missed := render(os.Stdout, results, baselines, defaultTargets)
	if *strict && missed > 0 {
		os.Exit(1)
	}
}

// parse reads `go test -bench` output and returns one result per
// sub-benchmark, in order of first appearance. Lines that are not benchmark
// results are skipped.
func parse(r io.Reader) ([]*result, error) {
	var results []*result
	byName := map[string]*result{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue // "BenchmarkX" alone on a line, as -v prints it
		}
		name := trimProcs(strings.TrimPrefix(fields[0], "Benchmark"))
		c, impl, _ := strings.Cut(name, "/")
		var ns, bytes, allocs float64 = -1, -1, -1
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %v", fields[0], fields[i], err)
			}
			switch fields[i+1] {
			case "ns/op":
				ns = v
			case "B/op":
				bytes = v
			case "allocs/op":
				allocs = v
			}
		}
		if ns < 0 {
			continue
		}
		res := byName[name]
		if res == nil {
			res = &result{Case: c, Impl: impl}
			byName[name] = res
			results = append(results, res)
		}
		res.NsOp = append(res.NsOp, ns)
		if bytes >= 0 {
			res.BytesOp = append(res.BytesOp, bytes)
		}
		if allocs >= 0 {
			res.AllocsOp = append(res.AllocsOp, allocs)
		}
	}
	return results, sc.Err()
}

// trimProcs removes the "-N" suffix that go test adds when GOMAXPROCS > 1.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// median returns the median of vs, or -1 when vs is empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return -1
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// render writes the table and returns how many targets were not met.
func render(w io.Writer, results []*result, baselines map[string]string, targets []target) int {
	type key struct{ c, impl string }
	med := map[key][3]float64{}
	runs := 0
	for _, r := range results {
		med[key{r.Case, r.Impl}] = [3]float64{median(r.NsOp), median(r.BytesOp), median(r.AllocsOp)}
		runs = max(runs, len(r.NsOp))
	}
	fmt.Fprintf(w, "Medians of %d runs. Ratios are this implementation's figure divided by the baseline's (the row marked *).\n\n", runs)
	fmt.Fprintln(w, "| Case | Impl | ns/op | B/op | allocs/op | ns ratio | allocs ratio | Target | Met |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|---|---|")
	missed := 0
	for _, r := range results {
		m := med[key{r.Case, r.Impl}]
		implLabel := r.Impl
		nsRatio, allocsRatio := -1.0, -1.0
		base, hasBase := med[key{r.Case, baselines[r.Case]}]
		if baselines[r.Case] == r.Impl {
			implLabel += " *"
		} else if hasBase {
			nsRatio = ratio(m[0], base[0])
			allocsRatio = ratio(m[2], base[2])
		}
		goal, met := "", ""
		for _, t := range targets {
			if t.Case != r.Case || t.Impl != r.Impl {
				continue
			}
			goal = t.String()
			ok, known := meets(t, m, nsRatio, allocsRatio)
			switch {
			case !known:
				met = "unknown (no baseline)"
			case ok:
				met = "yes"
			default:
				met = "**no**"
				missed++
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Case, implLabel, formatNumber(m[0]), formatCount(m[1]), formatCount(m[2]),
			formatRatioOrDash(nsRatio), formatRatioOrDash(allocsRatio), dash(goal), dash(met))
	}
	return missed
}

// meets reports whether the medians m (ns, B, allocs) satisfy t, and whether
// that could be decided at all.
func meets(t target, m [3]float64, nsRatio, allocsRatio float64) (ok, known bool) {
	ok, known = true, true
	if t.MaxNsRatio > 0 {
		if nsRatio < 0 {
			known = false
		} else if nsRatio > t.MaxNsRatio {
			ok = false
		}
	}
	if t.MaxAllocsRatio > 0 {
		if allocsRatio < 0 {
			known = false
		} else if allocsRatio > t.MaxAllocsRatio {
			ok = false
		}
	}
	if t.ZeroAllocs {
		if m[2] < 0 {
			known = false
		} else if m[2] != 0 {
			ok = false
		}
	}
	return ok, known
}

// ratio returns a/b, or -1 when it is undefined.
func ratio(a, b float64) float64 {
	if a < 0 || b <= 0 {
		return -1
	}
	return a / b
}

func formatNumber(v float64) string {
	switch {
	case v < 0:
		return "—"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// formatCount prints B/op and allocs/op: whole numbers as such, a median
// between two runs with one decimal.
func formatCount(v float64) string {
	switch {
	case v < 0:
		return "—"
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func formatRatio(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) + "x" }

func formatRatioOrDash(r float64) string {
	if r < 0 {
		return "—"
	}
	return formatRatio(r)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
