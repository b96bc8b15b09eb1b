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

func TestAgentLoopFixesItsCodeFromTheError(t *testing.T) {
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w) })
	assert.Equal(t, 2, strings.Count(got, "assistant calls run_code:"), got)
	assert.Contains(t, got, "tool error:\n    error: NameError: name 'square' is not defined")
	assert.Contains(t, got, "tool result:\n    result:\n    38.5")
	assert.True(t, strings.HasSuffix(got, "assistant: The mean of the squares of 1 to 10 is 38.5.\n"), got)
}

func TestScriptedModelGivesUpOnAnErrorItCannotFix(t *testing.T) {
	reply := scriptedModel([]message{{role: "tool", content: "error: MemoryError\ntraceback: ...", isError: true}})
	assert.Nil(t, reply.call)
	assert.Equal(t, "I could not compute it: error: MemoryError", reply.content)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
