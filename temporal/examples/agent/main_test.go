package main

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAgentOnTwoWorkers(t *testing.T) {
	if _, err := temporalCLI(); err != nil {
		t.Skip("the example needs a Temporal dev server: " + err.Error())
	}
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w, "", "both") })

	assert.Contains(t, got, "worker: model, task queue tta-agent-model\n")
	assert.Contains(t, got, "worker: sandbox, task queue tta-agent-sandbox\n")
	assert.Contains(t, got, "  attempt 1: the code raised NameError: name 'prime' is not defined; asking again with the error in the prompt\n")
	assert.Contains(t, got, "  attempt 2: the code returned 12.9\n")
	assert.Contains(t, got, "summary: The mean of the primes below 30 is 12.9 (Python, in a sandbox, 2 tries).\n")
}

func TestWorkerRoleIsChecked(t *testing.T) {
	err := run(context.Background(), io.Discard, "", "everything")
	assert.EqualError(t, err, `-worker must be both, model, sandbox or none, got "everything"`)
}
