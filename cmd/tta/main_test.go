package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main() // the test binary is the program, for tests that run it as a subprocess
	}
	goleak.VerifyTestMain(m)
}

// envRunMain makes the test binary run the program instead of the tests.
const envRunMain = "TTA_TEST_RUN_MAIN"

// result is what one run of the program produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// runTTA runs the program in-process with args and stdin, bounded by 30 s.
func runTTA(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout, stderr testenv.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// localOnly makes run and doctor use the embedded local server (E2B_API_KEY
// unset), with sandbox directories under a fresh temporary directory that
// must be empty when the test ends: no sandbox left behind. It returns that
// directory.
func localOnly(t *testing.T) string {
	t.Helper()
	t.Setenv("E2B_API_KEY", "")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root := filepath.Join(tmp, "tta-sandboxes")
	t.Cleanup(func() { testenv.AssertNoSandboxDirs(t, root) })
	return root
}

// cancelOn is a writer that cancels a context once what was written contains
// a marker.
type cancelOn struct {
	testenv.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Contains(c.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage:\n\n\ttta <command> [flags] [arguments]"},
		{[]string{"-h"}, "Commands:"},
		{[]string{"help"}, "Run 'tta help <command>'"},
		{[]string{"help", "run"}, "Usage: tta run"},
		{[]string{"help", "serve"}, "Usage: tta serve"},
		{[]string{"help", "doctor"}, "Usage: tta doctor"},
		{[]string{"help", "help"}, "Usage: tta help"},
		{[]string{"help", "--help"}, "Usage: tta help"},
		{[]string{"run", "--help"}, "--env K=V"},
		{[]string{"run", "x.py", "-h"}, "Usage: tta run"},
		{[]string{"serve", "--help"}, "export E2B_SANDBOX_URL="},
		{[]string{"serve", "-help"}, "TTA_SERVE_API_KEY"},
		{[]string{"doctor", "--help"}, "Usage: tta doctor"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runTTA(t, "", tt.args...)
			assert.Equal(t, exitOK, r.code)
			assert.Contains(t, r.stdout, tt.want)
			assert.Empty(t, r.stderr, "help goes to stdout")
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("TTA_SERVE_API_KEY", "")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"bogus"}, `tta: unknown command "bogus"`},
		{[]string{"--verbose"}, "tta: flag --verbose given before a command"},
		{[]string{"help", "bogus"}, `tta help: unknown command "bogus"`},
		{[]string{"help", "run", "serve"}, "at most one command"},
		{[]string{"run"}, "tta run: expected one FILE (or - for standard input), got 0 arguments\nRun 'tta run --help' for usage."},
		{[]string{"run", "a.py", "b.py"}, "got 2 arguments"},
		{[]string{"run", "--bogus", "a.py"}, "tta run: flag provided but not defined: -bogus"},
		{[]string{"run", "--timeout", "soon", "a.py"}, `invalid value "soon" for flag -timeout`},
		{[]string{"run", "--timeout", "-1s", "a.py"}, "--timeout must be >= 0, got -1s"},
		{[]string{"run", "--env", "NOEQUALS", "a.py"}, `want K=V, got "NOEQUALS"`},
		{[]string{"run", "--template", "", "a.py"}, "--template must not be empty"},
		{[]string{"run", filepath.Join(t.TempDir(), "missing.py")}, "no such file or directory"},
		{[]string{"serve", "extra"}, `tta serve: unexpected argument "extra"`},
		{[]string{"serve", "--api-key", "secret"}, `the API key must be "e2b_" followed by hexadecimal digits`},
		{[]string{"serve", "--templates", filepath.Join(t.TempDir(), "none.json")}, "--templates: open"},
		{[]string{"serve", "--addr", "not-an-address"}, "tta serve: listen tcp"},
		{[]string{"doctor"}, "tta doctor: expected one TEMPLATE, such as code-interpreter-v1, got 0 arguments"},
		{[]string{"doctor", "a", "b"}, "got 2 arguments"},
		{[]string{"doctor", "--timeout", "-5s", "base"}, "--timeout must be >= 0"},
		{[]string{"doctor", "base", "--timeout"}, "flag needs an argument: -timeout"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runTTA(t, "", tt.args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestParseAllowsFlagsAfterArguments(t *testing.T) {
	tests := []struct {
		args    []string
		pos     []string
		timeout time.Duration
	}{
		{[]string{"base"}, []string{"base"}, 0},
		{[]string{"--timeout", "5s", "base"}, []string{"base"}, 5 * time.Second},
		{[]string{"base", "--timeout", "5s"}, []string{"base"}, 5 * time.Second},
		{[]string{"a", "-timeout=2s", "b"}, []string{"a", "b"}, 2 * time.Second},
		{[]string{"--", "--timeout", "5s"}, []string{"--timeout", "5s"}, 0},
		{[]string{"a", "--", "-b"}, []string{"a", "-b"}, 0},
		{[]string{"-"}, []string{"-"}, 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := newFlagSet("x")
			timeout := fs.Duration("timeout", 0, "")
			c := &cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
			pos, err := parse(c, fs, func(w io.Writer) {}, tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.pos, pos)
			assert.Equal(t, tt.timeout, *timeout)
		})
	}
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, isTerminal(&bytes.Buffer{}))
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	assert.False(t, isTerminal(null), "/dev/null is a character device but no terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f))
}

// writeFile writes content to name.
func writeFile(name, content string) error {
	return os.WriteFile(name, []byte(content), 0o644)
}
