package main

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCustomTemplate(t *testing.T) {
	if testenv.OnE2B() {
		t.Skip("on E2B the example needs a custom template of your account: go run ./examples/custom-template -template NAME")
	}
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w, slowStart.Name, time.Second) })

	assert.Contains(t, got, "tta-slow-start: init window 2m0s\nstdout: interpreter up\n")
	m := regexp.MustCompile(`startup: ([0-9.]+)s`).FindStringSubmatch(got)
	require.NotNil(t, m, "startup line")
	startup, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, startup, 2.0, "waited out the 2 s setup")
	assert.Less(t, startup, 10.0)

	assert.Contains(t, got, "tta-slow-start: init window 1s\n")
	assert.Regexp(t, `error: tta: template tta-slow-start not ready: code interpreter port 49999 not open after \S+ and \d+ probes? \(init window 1s\) in sandbox \S+: .*port is not open`, got)
	assert.Contains(t, got, "errors.Is(err, tta.ErrTemplateNotReady): true; retries: 0\n")
	assert.Regexp(t, `sandbox \S+: killed \(not found\)`, got)
}
