package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAgent(t *testing.T) {
	local := !testenv.OnE2B()
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w) })

	assert.Contains(t, got, "warm pool: 2 sandboxes ready\n")
	assert.Contains(t, got, "task 1 [python]: How many primes are below 100?\n")
	assert.Contains(t, got, "  answer: 25 (verified in python and bash)\n")
	assert.Contains(t, got, "task 2 [bash]: What is 2 to the power of 20?\n  answer: 1048576 (verified in python and bash)\n")
	assert.Contains(t, got, "task 3 [ruby]: How many vowels are in \"sandbox\"?\n  skipped, no interpreter for it: tta: no route for key ruby\n")
	assert.NotContains(t, got, "failed:")
	if local {
		assert.Contains(t, got, "task 1 [python]: How many primes are below 100?\n  retry: attempt 1 failed (HTTP 503 from the sandbox); trying again in a fresh sandbox\n  answer: 25")
		assert.Equal(t, 1, strings.Count(got, "retry:"), "only the injected failure is retried")
	}
}
