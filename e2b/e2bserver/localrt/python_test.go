package localrt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
)

func TestPythonStatePersists(t *testing.T) {
	k := startTestKernel(t, langPython)
	evs := execute(t, k, "import math\nx = 41\ndef inc(v):\n    return v + 1", nil)
	assert.Empty(t, ofType(evs, wire.EventResult), "assignments have no result")
	assert.Empty(t, ofType(evs, wire.EventError))

	evs = execute(t, k, "inc(x) + math.floor(0.5)", nil)
	res := mainResult(t, evs)
	assert.Equal(t, "42", res.Text)
	assert.True(t, res.IsMainResult)
}

func TestPythonFinalExpression(t *testing.T) {
	k := startTestKernel(t, langPython)
	tests := []struct {
		name string
		code string
		want string // "" = no result
	}{
		{"expression", "1 + 1", "2"},
		{"string without its quotes, as on E2B", "'a' * 3", "aaa"},
		{"other reprs as they are", `"it's"`, `"it's"`},
		{"last of several statements", "y = 2\ny * 10", "20"},
		{"None shows nothing", "None", ""},
		{"semicolon suppresses", "5;", ""},
		{"statement last", "z = 3", ""},
		{"top-level await", "import asyncio\nasync def f():\n    return 7\nawait f()", "7"},
		{"underscore is the last result", "_", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := execute(t, k, tt.code, nil)
			require.Empty(t, ofType(evs, wire.EventError))
			results := ofType(evs, wire.EventResult)
			if tt.want == "" {
				assert.Empty(t, results)
				return
			}
			assert.Equal(t, tt.want, mainResult(t, evs).Text)
		})
	}
}

func TestPythonRichRepr(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := `
class Rich:
    def __repr__(self): return "Rich()"
    def _repr_html_(self): return "<b>rich</b>"
    def _repr_markdown_(self): return "**rich**"
    def _repr_json_(self): return {"rich": True}
    def _repr_png_(self): return b"\x89PNG"
    def _repr_svg_(self): return "<svg/>"
    def _repr_latex_(self): return "$r$"
    def _repr_pdf_(self): raise ValueError("no pdf")
Rich()`
	res := mainResult(t, execute(t, k, code, nil))
	assert.Equal(t, "Rich()", res.Text)
	assert.Nil(t, res.Extra)
	assert.Equal(t, "<b>rich</b>", res.HTML)
	assert.Equal(t, "**rich**", res.Markdown)
	assert.Equal(t, map[string]any{"rich": true}, res.JSON)
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("\x89PNG")), res.PNG)
	assert.Equal(t, "<svg/>", res.SVG)
	assert.Equal(t, "$r$", res.LaTeX)
	assert.Empty(t, res.PDF, "a failing _repr_pdf_ is skipped")

	evs := execute(t, k, "display(Rich())\nRich", nil)
	results := ofType(evs, wire.EventResult)
	require.Len(t, results, 2)
	assert.False(t, results[0].IsMainResult, "display is not the main result")
	assert.Equal(t, "<b>rich</b>", results[0].HTML)
	assert.True(t, results[1].IsMainResult)
	assert.Empty(t, results[1].HTML, "a class is shown by repr only")

	code = `
class J:
    def __init__(self, v): self.v = v
    def _repr_json_(self): return self.v
`
	execute(t, k, code, nil)
	for expr, want := range map[string]any{
		`J([1, "two", None])`:   []any{1.0, "two", nil},
		`J("text")`:             "text",
		`J(2.5)`:                2.5,
		`J(False)`:              false,
		`J(float("nan"))`:       nil,
		`J({"k": object()})`:    nil,
		`J({"nested": [True]})`: map[string]any{"nested": []any{true}},
	} {
		res := mainResult(t, execute(t, k, expr, nil))
		assert.Equal(t, want, res.JSON, expr)
	}
}

func TestPythonStdoutStderrOrder(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := `
import sys
print("out 1")
print("err 1", file=sys.stderr)
print("out", end="")
print(" 2")
sys.stderr.write("err 2\n")
print("out 3")`
	evs := execute(t, k, code, nil)
	var got []string
	for _, ev := range evs[1:] {
		got = append(got, ev.Type+":"+ev.Text)
		assert.NotZero(t, ev.Timestamp, "timestamp of %q", ev.Text)
	}
	assert.Equal(t, []string{
		"stdout:out 1\n", "stderr:err 1\n", "stdout:out 2\n", "stderr:err 2\n", "stdout:out 3\n",
	}, got)
}

func TestPythonOutputStreamsBeforeEnd(t *testing.T) {
	k := startTestKernel(t, langPython)
	fifo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// The code prints, then blocks until the test opens the FIFO: the test
	// only does so once the print has arrived, so the print cannot have been
	// held back until the end.
	code := fmt.Sprintf("print('before', flush=True)\nopen(%q).read()\nprint('after')", fifo)

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	first := make(chan string, 1)
	done := make(chan error, 1)
	var evs []wire.ExecutionEvent
	go func() {
		done <- k.Execute(ctx, code, nil, func(ev wire.ExecutionEvent) error {
			evs = append(evs, ev)
			if ev.Type == wire.EventStdout && len(first) == 0 && !strings.Contains(ev.Text, "after") {
				first <- ev.Text
			}
			return nil
		})
	}()
	select {
	case s := <-first:
		assert.Equal(t, "before\n", s)
	case err := <-done:
		t.Fatalf("execution ended before any output streamed: %v", err)
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, <-done)
	assert.Equal(t, "before\nafter\n", text(evs, wire.EventStdout))
}

func TestPythonRawOutputOfChildProcesses(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := `
import os, subprocess
print("from python")
subprocess.run(["echo", "from a child"])
os.write(2, b"raw stderr\n")`
	evs := execute(t, k, code, nil)
	// The interpreter's print and the child's write travel by separate pipes:
	// both arrive whole, in either order (see kernel).
	assert.ElementsMatch(t, []string{"from python", "from a child"},
		strings.Split(strings.TrimSuffix(text(evs, wire.EventStdout), "\n"), "\n"))
	assert.Equal(t, "raw stderr\n", text(evs, wire.EventStderr))
}

func TestPythonException(t *testing.T) {
	k := startTestKernel(t, langPython)
	evs := execute(t, k, "def f():\n    return 1 / 0\nprint('ran')\nf()", nil)
	assert.Equal(t, "ran\n", text(evs, wire.EventStdout))
	e := singleError(t, evs)
	assert.Equal(t, "ZeroDivisionError", e.Name)
	assert.Equal(t, "division by zero", e.Value)
	assert.Contains(t, e.Traceback, "Traceback (most recent call last)")
	assert.Contains(t, e.Traceback, "Cell In[1], line 4")
	assert.Contains(t, e.Traceback, "----> 4 f()")
	assert.Contains(t, e.Traceback, "----> 2     return 1 / 0")
	assert.True(t, strings.HasSuffix(e.Traceback, "ZeroDivisionError: division by zero"), e.Traceback)
	assert.NotContains(t, e.Traceback, "_execute", "driver frames are hidden")

	evs = execute(t, k, "x = (", nil)
	e = singleError(t, evs)
	assert.Equal(t, "SyntaxError", e.Name)
	assert.Equal(t, "'(' was never closed (Cell In[2], line 1)", e.Value)
	assert.Contains(t, e.Traceback, "Cell In[2], line 1")

	evs = execute(t, k, "try:\n    1/0\nexcept Exception as e:\n    raise ValueError('wrapped') from e", nil)
	e = singleError(t, evs)
	assert.Equal(t, "ValueError", e.Name)
	assert.Contains(t, e.Traceback, "ZeroDivisionError: division by zero\n\nThe above exception was the direct cause of the following exception:")
	evs = execute(t, k, "try:\n    1/0\nexcept Exception:\n    {}['k']", nil)
	assert.Contains(t, singleError(t, evs).Traceback, "During handling of the above exception, another exception occurred:")

	evs = execute(t, k, "raise SystemExit(3)", nil)
	assert.Equal(t, "SystemExit", singleError(t, evs).Name, "SystemExit does not end the kernel")
	assert.Equal(t, "3", mainResult(t, execute(t, k, "1 + 2", nil)).Text)
}

func TestPythonExecutionCount(t *testing.T) {
	k := startTestKernel(t, langPython)
	for i, code := range []string{"1", "raise ValueError('x')", "x = (", "2"} {
		evs := execute(t, k, code, nil)
		assert.Equal(t, i+1, evs[0].ExecutionCount, "execution %d", i+1)
	}
}

func TestPythonEnvVarsForOneExecution(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := "import os\nos.environ.get('TTA_VAR')"
	res := mainResult(t, execute(t, k, code, map[string]string{"TTA_VAR": "set"}))
	assert.Equal(t, "set", res.Text)
	evs := execute(t, k, code, nil)
	assert.Empty(t, ofType(evs, wire.EventResult), "the variable is gone after its execution")

	evs = execute(t, k, "import subprocess\nsubprocess.run(['sh', '-c', 'echo $TTA_VAR'])\nNone", map[string]string{"TTA_VAR": "child"})
	assert.Equal(t, "child\n", text(evs, wire.EventStdout), "child processes see it too")
}

func TestPythonCancelInterruptsWithoutKillingTheContext(t *testing.T) {
	k := startTestKernel(t, langPython)
	execute(t, k, "x = 5", nil)

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var evs []wire.ExecutionEvent
	err := k.Execute(ctx, "print('looping', flush=True)\nwhile True:\n    pass", nil, func(ev wire.ExecutionEvent) error {
		evs = append(evs, ev)
		if ev.Type == wire.EventStdout {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	e := singleError(t, evs)
	assert.Equal(t, "KeyboardInterrupt", e.Name)
	assert.Contains(t, e.Traceback, "Cell In[2]")

	res := mainResult(t, execute(t, k, "x", nil))
	assert.Equal(t, "5", res.Text, "state survives the interrupt")
}

func TestPythonEmitErrorStopsTheExecution(t *testing.T) {
	k := startTestKernel(t, langPython)
	execute(t, k, "x = 1", nil)
	errGone := errors.New("client gone")
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	err := k.Execute(ctx, "print('go', flush=True)\nwhile True:\n    pass", nil, func(ev wire.ExecutionEvent) error {
		if ev.Type == wire.EventStdout {
			return errGone
		}
		return nil
	})
	require.ErrorIs(t, err, errGone)
	assert.Equal(t, "1", mainResult(t, execute(t, k, "x", nil)).Text)
}

func TestPythonRestartClearsState(t *testing.T) {
	k := startTestKernel(t, langPython)
	execute(t, k, "x = 1", nil)
	execute(t, k, "x += 1", nil)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	require.NoError(t, k.Restart(ctx))
	evs := execute(t, k, "x", nil)
	assert.Equal(t, 1, evs[0].ExecutionCount, "count restarts")
	e := singleError(t, evs)
	assert.Equal(t, "NameError", e.Name)
	assert.Equal(t, "name 'x' is not defined", e.Value)
}

func TestPythonDeadKernelRestartsOnNextExecution(t *testing.T) {
	k := startTestKernel(t, langPython)
	execute(t, k, "x = 1", nil)
	evs := execute(t, k, "import os\nprint('bye', flush=True)\nos._exit(3)", nil)
	assert.Equal(t, "bye\n", text(evs, wire.EventStdout))
	e := singleError(t, evs)
	assert.Equal(t, "DeadKernelError", e.Name)
	assert.Contains(t, e.Value, "exit status 3")

	evs = execute(t, k, "'x' in globals()", nil)
	assert.Equal(t, 1, evs[0].ExecutionCount)
	assert.Equal(t, "False", mainResult(t, evs).Text)
}

func TestPythonLargeOutput(t *testing.T) {
	k := startTestKernel(t, langPython)
	const size = 8 << 20
	code := fmt.Sprintf("import base64\ns = base64.b64encode(b'\\xfb' * %d).decode()[:%d]\nprint(s)\nlen(s)", size, size)
	evs := execute(t, k, code, nil)
	out := text(evs, wire.EventStdout)
	assert.Len(t, out, size+1)
	assert.True(t, out == strings.Repeat("+/v7", size/4)+"\n", "output content differs")
	assert.Equal(t, strconv.Itoa(size), mainResult(t, evs).Text)

	evs = execute(t, k, fmt.Sprintf("import os\nos.write(1, b'y' * %d)\nNone", size), nil)
	assert.Len(t, text(evs, wire.EventStdout), size, "raw writes pass whole")
}

func TestPythonLargeCode(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := "s = '" + strings.Repeat("z", 4<<20) + "'\nlen(s)"
	assert.Equal(t, strconv.Itoa(4<<20), mainResult(t, execute(t, k, code, nil)).Text)
}

func TestPythonWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	k, err := startKernel(ctx, kernelConfig{language: "python", dir: dir, env: map[string]string{"TTA_BASE": "base"}})
	require.NoError(t, err)
	defer k.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mod.py"), []byte("VALUE = 9\n"), 0o600))
	evs := execute(t, k, "import os, mod\n(os.getcwd(), os.environ['HOME'], os.environ['TTA_BASE'], mod.VALUE)", nil)
	assert.Equal(t, fmt.Sprintf("(%q, %q, \"base\", 9)", dir, dir), strings.ReplaceAll(mainResult(t, evs).Text, "'", "\""))
}

func TestKernelCloseLeavesNoProcess(t *testing.T) {
	for _, lang := range []string{langPython, langJavaScript, langBash} {
		t.Run(lang, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			k, err := startKernel(ctx, kernelConfig{language: lang, dir: t.TempDir()})
			require.NoError(t, err)
			code := map[string]string{
				langPython:     "import subprocess\np = subprocess.Popen(['sleep', '300'])\nprint(p.pid, flush=True)\nwhile True: pass",
				langJavaScript: "const cp = require('child_process'); const c = cp.spawn('sleep', ['300'], {stdio: 'ignore'}); console.log(c.pid); while (true) {}",
				langBash:       "sleep 300 &\necho $!\nwait",
			}[lang]
			pids := make(chan int, 1)
			done := make(chan error, 1)
			go func() {
				done <- k.Execute(ctx, code, nil, func(ev wire.ExecutionEvent) error {
					if ev.Type == wire.EventStdout {
						pid, err := strconv.Atoi(strings.TrimSpace(ev.Text))
						if err == nil {
							pids <- pid
						}
					}
					return nil
				})
			}()
			var child int
			select {
			case child = <-pids:
			case err := <-done:
				t.Fatalf("execution ended early: %v", err)
			}
			var driver int
			k.mu.Lock()
			if k.proc != nil {
				driver = k.proc.pid
			}
			k.mu.Unlock()

			require.NoError(t, k.Close())
			require.NoError(t, k.Close(), "Close is idempotent")
			<-done
			assert.True(t, testenv.ProcessExited(t, child, 5*time.Second), "child %d still runs", child)
			if driver != 0 {
				assert.True(t, testenv.ProcessExited(t, driver, 5*time.Second), "driver %d still runs", driver)
			}
			err = k.Execute(ctx, "1", nil, func(wire.ExecutionEvent) error { return nil })
			assert.ErrorIs(t, err, errKernelClosed)
		})
	}
}

func TestStartKernelUnsupportedLanguage(t *testing.T) {
	for _, lang := range []string{"typescript", "ts", "r", "java"} {
		_, err := startKernel(t.Context(), kernelConfig{language: lang, dir: t.TempDir()})
		require.ErrorIs(t, err, errUnsupportedLanguage, lang)
		assert.ErrorIs(t, err, os.ErrInvalid, lang)
		assert.Contains(t, err.Error(), lang)
	}
}

func TestNormalizeLanguage(t *testing.T) {
	tests := map[string]string{
		"": langPython, "python": langPython, "Python3": langPython, "py": langPython,
		"javascript": langJavaScript, "js": langJavaScript, "JS": langJavaScript,
		"bash": langBash, "sh": langBash,
	}
	for in, want := range tests {
		got, err := normalizeLanguage(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

// TestPythonMatplotlibFigures drives the figure code with a stand-in for
// matplotlib.pyplot (matplotlib itself may not be installed): open figures
// become PNG results after the cell, and a figure as the final value is the
// main result, shown once.
func TestPythonMatplotlibFigures(t *testing.T) {
	k := startTestKernel(t, langPython)
	execute(t, k, `
import sys, types
plt = types.ModuleType("matplotlib.pyplot")
class Figure:
    def __repr__(self): return "<Figure>"
    def savefig(self, buf, format, bbox_inches): buf.write(b"PNG" + format.encode())
Figure.__module__ = "matplotlib.figure"
figs = {}
plt.get_fignums = lambda: sorted(figs)
plt.figure = lambda n: figs[n]
plt.close = lambda which: figs.clear()
sys.modules["matplotlib.pyplot"] = plt`, nil)
	png := base64.StdEncoding.EncodeToString([]byte("PNGpng"))

	evs := execute(t, k, "figs[1] = Figure()\nfigs[2] = Figure()", nil)
	results := ofType(evs, wire.EventResult)
	require.Len(t, results, 2, "one result per open figure")
	for _, r := range results {
		assert.False(t, r.IsMainResult)
		assert.Equal(t, png, r.PNG)
	}
	assert.Empty(t, ofType(execute(t, k, "None", nil), wire.EventResult), "figures are closed once shown")

	evs = execute(t, k, "f = Figure()\nfigs[1] = f\nf", nil)
	results = ofType(evs, wire.EventResult)
	require.Len(t, results, 1, "a figure returned is not shown twice")
	assert.True(t, results[0].IsMainResult)
	assert.Equal(t, png, results[0].PNG)
	assert.Equal(t, "<Figure>", results[0].Text)
}

// MIME types a result has beyond the known ones arrive under extra, by MIME
// type, as E2B's interpreter sends them.
func TestPythonExtraMIMETypes(t *testing.T) {
	k := startTestKernel(t, langPython)
	code := `
class Plot:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": "Plot()", "application/vnd.plotly.v1+json": {"data": [1]}, "text/x-note": "hi"}
Plot()`
	res := mainResult(t, execute(t, k, code, nil))
	assert.Equal(t, "Plot()", res.Text)
	assert.Equal(t, map[string]any{
		"application/vnd.plotly.v1+json": map[string]any{"data": []any{1.0}},
		"text/x-note":                    "hi",
	}, res.Extra)
}
