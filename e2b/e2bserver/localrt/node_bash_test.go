package localrt

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

func TestJavaScriptStatePersists(t *testing.T) {
	k := startTestKernel(t, "js")
	assert.Equal(t, langJavaScript, k.Language())
	evs := execute(t, k, "let a = 2; var b = 3; const f = (x) => x * a * b;", nil)
	assert.Empty(t, ofType(evs, wire.EventError))
	evs = execute(t, k, "console.log('a is', a); f(7)", nil)
	assert.Equal(t, "a is 2\n", text(evs, wire.EventStdout))
	assert.Equal(t, "42", mainResult(t, evs).Text)
	assert.Equal(t, 2, evs[0].ExecutionCount)
}

func TestJavaScriptEvents(t *testing.T) {
	k := startTestKernel(t, langJavaScript)
	tests := []struct {
		name       string
		code       string
		env        map[string]string
		stdout     string
		stderr     string
		result     string
		errName    string
		errValue   string
		tracebackN string // the traceback contains it
	}{
		{name: "object result", code: "({n: 1, s: 'x'})", result: "{ n: 1, s: 'x' }"},
		{name: "undefined shows nothing", code: "undefined"},
		{name: "promise is awaited", code: "Promise.resolve(5)", result: "5"},
		{name: "top-level await", code: "await new Promise(r => setTimeout(() => r(1), 1)); console.log('waited')", stdout: "waited\n"},
		{name: "stderr", code: "console.error('oops'); process.stdout.write('raw'); undefined", stdout: "raw", stderr: "oops\n"},
		{name: "thrown error", code: "function g() { throw new TypeError('bad thing') }\ng()", errName: "TypeError", errValue: "bad thing", tracebackN: "cell-"},
		{name: "syntax error", code: "let = = 1", errName: "SyntaxError"},
		{name: "rejected promise", code: "Promise.reject(new RangeError('no'))", errName: "RangeError", errValue: "no"},
		{name: "env for one execution", code: "process.env.TTA_JS", env: map[string]string{"TTA_JS": "on"}, result: "'on'"},
		{name: "env is gone after", code: "process.env.TTA_JS"},
		{name: "require works", code: "require('path').join('a', 'b')", result: "'a/b'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := execute(t, k, tt.code, tt.env)
			assert.Equal(t, tt.stdout, text(evs, wire.EventStdout))
			assert.Equal(t, tt.stderr, text(evs, wire.EventStderr))
			if tt.result == "" {
				assert.Empty(t, ofType(evs, wire.EventResult))
			} else {
				assert.Equal(t, tt.result, mainResult(t, evs).Text)
			}
			if tt.errName == "" {
				assert.Empty(t, ofType(evs, wire.EventError))
				return
			}
			e := singleError(t, evs)
			assert.Equal(t, tt.errName, e.Name)
			if tt.errValue != "" {
				assert.Equal(t, tt.errValue, e.Value)
			}
			assert.Contains(t, e.Traceback, tt.tracebackN)
			assert.NotContains(t, e.Traceback, "node:vm", "driver frames are hidden")
		})
	}
}

func TestJavaScriptCancelInterrupts(t *testing.T) {
	k := startTestKernel(t, langJavaScript)
	execute(t, k, "var kept = 'yes'", nil)
	for _, code := range []string{
		"console.log('spin'); while (true) {}",
		"setTimeout(() => console.log('wait'), 0); await new Promise(() => {})",
	} {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		var evs []wire.ExecutionEvent
		err := k.Execute(ctx, code, nil, func(ev wire.ExecutionEvent) error {
			evs = append(evs, ev)
			if ev.Type == wire.EventStdout {
				cancel()
			}
			return nil
		})
		cancel()
		require.ErrorIs(t, err, context.Canceled, code)
		assert.Contains(t, singleError(t, evs).Value, "interrupted", code)
	}
	assert.Equal(t, "'yes'", mainResult(t, execute(t, k, "kept", nil)).Text)
}

func TestBash(t *testing.T) {
	k := startTestKernel(t, langBash)
	tests := []struct {
		name    string
		code    string
		env     map[string]string
		stdout  string
		stderr  string
		errText string // "" = no error
	}{
		{name: "output", code: "echo out; echo err >&2", stdout: "out\n", stderr: "err\n"},
		{name: "exit code", code: "echo before; exit 3", stdout: "before\n", errText: "exit status 3"},
		{name: "failing command", code: "false", errText: "exit status 1"},
		{name: "env", code: "echo \"$TTA_SH\"", env: map[string]string{"TTA_SH": "v"}, stdout: "v\n"},
		{name: "fresh shell", code: "X=1; echo ${X}", stdout: "1\n"},
		{name: "no state kept", code: "echo \"[${X}] [${TTA_SH}]\"", stdout: "[] []\n"},
		{name: "background jobs end with the execution", code: "sleep 300 & echo started", stdout: "started\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := execute(t, k, tt.code, tt.env)
			assert.Equal(t, i+1, evs[0].ExecutionCount)
			assert.Equal(t, tt.stdout, text(evs, wire.EventStdout))
			assert.Equal(t, tt.stderr, text(evs, wire.EventStderr))
			assert.Empty(t, ofType(evs, wire.EventResult))
			if tt.errText == "" {
				assert.Empty(t, ofType(evs, wire.EventError))
				return
			}
			e := singleError(t, evs)
			assert.Equal(t, "ExitError", e.Name)
			assert.Equal(t, tt.errText, e.Value)
		})
	}
}

func TestBashCancel(t *testing.T) {
	k := startTestKernel(t, langBash)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var evs []wire.ExecutionEvent
	err := k.Execute(ctx, "echo go; while true; do :; done", nil, func(ev wire.ExecutionEvent) error {
		evs = append(evs, ev)
		if ev.Type == wire.EventStdout {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	e := singleError(t, evs)
	assert.Equal(t, "ExitError", e.Name)
	assert.True(t, strings.HasPrefix(e.Value, "signal: "), e.Value)
}

func TestRawScanner(t *testing.T) {
	prefix := []byte("\x00SYNC-")
	marker := func(id string) string { return "\x00SYNC-" + strings.Repeat("0", markerDigits-len(id)) + id }
	tests := []struct {
		name    string
		chunks  []string
		text    string
		markers []uint64
		pending string
	}{
		{name: "plain", chunks: []string{"abc", "def"}, text: "abcdef"},
		{name: "marker whole", chunks: []string{"ab" + marker("1f") + "cd"}, text: "abcd", markers: []uint64{0x1f}},
		{name: "marker split in the prefix", chunks: []string{"ab\x00SY", "NC-" + strings.Repeat("0", 15) + "2x"}, text: "abx", markers: []uint64{2}},
		{name: "marker split in the id", chunks: []string{"a" + marker("3")[:12], marker("3")[12:]}, text: "a", markers: []uint64{3}},
		{name: "two markers", chunks: []string{marker("1") + marker("2")}, markers: []uint64{1, 2}},
		{name: "not a marker", chunks: []string{"a\x00SYX"}, text: "a\x00SYX"},
		{name: "utf-8 split", chunks: []string{"h\xc3", "\xa9!"}, text: "hé!"},
		{name: "utf-8 held", chunks: []string{"\xe2\x82"}, pending: "\xe2\x82"},
		{name: "prefix start held", chunks: []string{"x\x00SY"}, text: "x", pending: "\x00SY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rawScanner{prefix: prefix}
			var got strings.Builder
			var chunks []string
			var markers []uint64
			for _, c := range tt.chunks {
				s.feed([]byte(c), func(b []byte) {
					got.Write(b)
					chunks = append(chunks, string(b))
				}, func(id uint64) { markers = append(markers, id) })
			}
			assert.Equal(t, tt.text, got.String())
			assert.Equal(t, tt.markers, markers)
			assert.Equal(t, tt.pending, string(s.flush()))
			for _, c := range chunks {
				assert.NotEmpty(t, c, "no empty chunks")
			}
		})
	}
}
