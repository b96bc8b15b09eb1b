package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestQuickstart(t *testing.T) {
	if os.Getenv("E2B_API_KEY") == "" {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("the local sandbox server runs Python with python3, which is not on PATH")
		}
	}
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
