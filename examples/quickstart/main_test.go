package main

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestQuickstart(t *testing.T) {
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w) })
	assert.Contains(t, got, "stdout: Hello from default template!\n")
	assert.Contains(t, got, "template code-interpreter-v1, sandbox ")
	assert.Contains(t, got, "stdout: 15 primes below 50\n")
	assert.Contains(t, got, "result: 10466\n")
	assert.Contains(t, got, "success: true, execution count 1\n")
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
