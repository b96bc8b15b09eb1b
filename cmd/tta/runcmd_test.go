package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
)

// repoFile returns the path of a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(here), "..", "..", rel)
}

func TestRunHello(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	r := runTTA(t, "", "run", repoFile(t, "examples/hello.py"))
	require.Equal(t, exitOK, r.code, "stderr:\n%s", r.stderr)
	assert.Regexp(t, `^tta: E2B_API_KEY not set; running on the embedded local sandbox server\ntta: sandboxes are (confined: own root file system|NOT confined \(.+\)).*\n$`, r.stderr)
	lines := strings.Split(r.stdout, "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Equal(t, "Hello from default template!", lines[0])
	assert.Regexp(t, `^Python 3\.[0-9]+; mean of \[2, 3, 5, 7, 11, 13\]: 6\.83$`, lines[1])
	assert.Equal(t, "377", lines[2], "the value of the last expression")
	assert.Empty(t, lines[3])
}

func TestRunCodeThatRaises(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	r := runTTA(t, "print('before')\nx = {}\nx['missing']\n", "run", "-")
	assert.Equal(t, exitFailed, r.code)
	assert.Equal(t, "before\n", r.stdout)
	assert.Contains(t, r.stderr, "KeyError")
	assert.Contains(t, r.stderr, "----> 3 x['missing']", "the traceback")
	assert.NotContains(t, r.stderr, "\x1b[", "no colour codes off a terminal")
	assert.NotContains(t, r.stderr, "hint:", "the code's own error is no infrastructure failure")
}

func TestRunEnvVarsStreamsAndVerbose(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	code := "import os, sys\nprint(os.environ['GREETING'], os.environ['EMPTY'] == '')\nprint('to stderr', file=sys.stderr)\n"
	r := runTTA(t, code, "run", "--env", "GREETING=hello world", "--env", "EMPTY=", "-v", "-")
	require.Equal(t, exitOK, r.code, "stderr:\n%s", r.stderr)
	assert.Equal(t, "hello world True\n", r.stdout)
	assert.Contains(t, r.stderr, "to stderr\n")
	assert.Regexp(t, `tta run: sandbox \S+ \(template code-interpreter-v1\) ready in \S+; the code ran in \S+\n`, r.stderr)
}

func TestRunLanguageFromExtension(t *testing.T) {
	testenv.RequireTools(t, "python3") // the default template starts a Python kernel in every sandbox
	localOnly(t)
	file := filepath.Join(t.TempDir(), "hello.sh")
	require.NoError(t, writeFile(file, "echo \"bash $((6 * 7))\"\n"))
	r := runTTA(t, "", "run", file)
	require.Equal(t, exitOK, r.code, "stderr:\n%s", r.stderr)
	assert.Equal(t, "bash 42\n", r.stdout)
}

func TestRunResultsStartOnALineOfTheirOwn(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	r := runTTA(t, "print('no newline', end='')\n6 * 7\n", "run", "-")
	require.Equal(t, exitOK, r.code, "stderr:\n%s", r.stderr)
	assert.Equal(t, "no newline\n42\n", r.stdout)
}

func TestRunBinaryResult(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	code := "class Img:\n    def _repr_png_(self):\n        return b'\\x89PNG\\r\\n\\x1a\\n' + bytes(100)\n    def __repr__(self):\n        return '<Img>'\nImg()\n"
	r := runTTA(t, code, "run", "-")
	require.Equal(t, exitOK, r.code, "stderr:\n%s", r.stderr)
	assert.Equal(t, "<Img>\n[image/png result, 108 bytes]\n", r.stdout)
}

func TestRunTimeout(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	r := runTTA(t, "print('spinning', flush=True)\nwhile True: pass\n", "run", "--timeout", "1s", "-")
	assert.Equal(t, exitFailed, r.code)
	assert.Equal(t, "spinning\n", r.stdout)
	assert.Contains(t, r.stderr, "tta run: the code ran longer than --timeout 1s and was interrupted; the sandbox was killed")
}

func TestRunInterrupted(t *testing.T) {
	testenv.RequireTools(t, "python3")
	localOnly(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stdout := &cancelOn{marker: "started", cancel: cancel}
	var stderr testenv.Buffer
	code := run(ctx, []string{"run", "-"}, strings.NewReader("import time\nprint('started', flush=True)\ntime.sleep(60)\n"), stdout, &stderr)
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stderr.String(), "tta run: interrupted; the sandbox was killed")
}

func TestRunInfrastructureErrors(t *testing.T) {
	localOnly(t)
	file := filepath.Join(t.TempDir(), "templates.json")
	require.NoError(t, writeFile(file, `{"templates": [{"name": "broken", "setup": ["exit 1"]}]}`))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown template", []string{"run", "--template", "nope", "-"}, []string{
			"tta run: create (template nope): e2b: create sandbox:", "template 'nope' not found",
			"hint: check the template's name or ID (nope)",
		}},
		{"template that never starts", []string{"run", "--templates", file, "--template", "broken", "--init-window", "600ms", "-"}, []string{
			"tta run: template broken not ready: code interpreter port 49999 not open after",
			"hint: run `tta doctor broken` to see why its code interpreter does not start",
		}},
		{"bad templates file", []string{"run", "--templates", filepath.Join(t.TempDir(), "none.json"), "-"}, []string{"tta run: --templates: open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTTA(t, "print(1)", tt.args...)
			assert.Equal(t, exitUsage, r.code)
			for _, w := range tt.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.Empty(t, r.stdout)
		})
	}
}

func TestRunHintForTemplateNotReady(t *testing.T) {
	err := &tta.TemplateNotReadyError{Template: "tta-ml-minimal", Port: 49999}
	hint := runHint(tta.Template{Name: "tta-ml-minimal"}, err)
	assert.Contains(t, hint, "run `tta doctor tta-ml-minimal`")
	assert.Contains(t, hint, "tta.WithPackages")
}

func TestPrintResults(t *testing.T) {
	png := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89}, 1234))
	var out bytes.Buffer
	printResults(&out, []tta.Result{
		{Text: "<Figure size 640x480 with 1 Axes>", Data: map[string]string{"image/png": png}},
		{Data: map[string]string{"text/html": "<b>hi</b>"}},
		{IsMain: true, Text: "42", Data: map[string]string{"text/html": "<i>42</i>"}},
	})
	assert.Equal(t, "<Figure size 640x480 with 1 Axes>\n[image/png result, 1234 bytes]\n[text/html result, 9 bytes]\n42\n", out.String())
}

func TestLanguageOf(t *testing.T) {
	for file, want := range map[string]string{
		"a.py": "python", "a.PY": "python", "a.js": "javascript", "a.mjs": "javascript", "a.ts": "typescript",
		"a.sh": "bash", "a.R": "r", "a.java": "java", "a.txt": "", "-": "", "noext": "",
	} {
		assert.Equal(t, want, languageOf(file), file)
	}
}

func TestEnvFlag(t *testing.T) {
	e := envFlag{}
	require.NoError(t, e.Set("A=1"))
	require.NoError(t, e.Set("B=x=y"))
	require.NoError(t, e.Set("A=2"))
	assert.Equal(t, envFlag{"A": "2", "B": "x=y"}, e)
	assert.Error(t, e.Set("=v"))
	assert.Error(t, e.Set("novalue"))
}

func TestReadCodeFromFileAndStdin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.py")
	require.NoError(t, os.WriteFile(file, []byte("print(1)"), 0o644))
	c := &cli{stdin: strings.NewReader("print(2)")}
	code, err := readCode(c, file)
	require.NoError(t, err)
	assert.Equal(t, "print(1)", code)
	code, err = readCode(c, "-")
	require.NoError(t, err)
	assert.Equal(t, "print(2)", code)
}
