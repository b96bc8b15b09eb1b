// Package testenv holds what the module's tests share: where they run (on
// E2B when E2B_API_KEY is set, otherwise on the local sandbox server, whose
// sandboxes need tools of the machine), code execution primitives that check
// for leaked sandboxes when the test ends, and checks that a local server
// left no sandbox directory or process behind.
package testenv

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// OnE2B reports whether the tests run on E2B: E2B_API_KEY is set. Otherwise
// they run on the local sandbox server.
func OnE2B() bool { return os.Getenv("E2B_API_KEY") != "" }

// RequireLocalTools skips t, when it runs on the local sandbox server, unless
// every one of tools is on PATH: the local server runs Python with python3
// and installs packages with pip. On E2B it does nothing.
func RequireLocalTools(t testing.TB, tools ...string) {
	t.Helper()
	if OnE2B() {
		return
	}
	RequireTools(t, tools...)
}

// RequireTools skips t unless every one of tools is on PATH, wherever it
// runs: for tests that always use local sandboxes.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the local sandbox server needs %s, which is not on PATH; install it, or set E2B_API_KEY to run on E2B", tool)
		}
	}
}

// ProgramOutput calls run, an example program's body, with a buffer for its
// output, requires it to succeed, logs what it wrote and returns that.
func ProgramOutput(t testing.TB, run func(w io.Writer) error) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, run(&out))
	t.Log("\n" + out.String())
	return out.String()
}
