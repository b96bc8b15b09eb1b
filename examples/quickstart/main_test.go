package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestQuickstart(t *testing.T) {
	testenv.RequireLocalTools(t, "python3")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	t.Log("\n" + got)
	assert.Contains(t, got, "stdout: Hello from default template!\n")
	assert.Contains(t, got, "template code-interpreter-v1, sandbox ")
	assert.Contains(t, got, "stdout: 15 primes below 50\n")
	assert.Contains(t, got, "result: 10466\n")
	assert.Contains(t, got, "success: true, execution count 1\n")
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
