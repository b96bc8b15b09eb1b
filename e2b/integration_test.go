package e2b_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
)

// TestRealE2B runs against E2B itself. It runs only when E2B_API_KEY is set
// (the other E2B_ variables are honoured too) and kills what it creates.
func TestRealE2B(t *testing.T) {
	if os.Getenv(e2b.EnvAPIKey) == "" {
		t.Skip("E2B_API_KEY not set: skipping tests against real E2B")
	}
	client, err := e2b.NewClient()
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	sbx, err := client.Create(ctx, e2b.CreateOptions{
		Timeout:  2 * time.Minute,
		Metadata: map[string]string{"purpose": "tta-e2b-integration-test"},
	})
	require.NoError(t, err)
	defer func() {
		killed, err := sbx.Kill(ctx)
		assert.NoError(t, err)
		assert.True(t, killed)
	}()
	t.Logf("created %s", sbx)

	info, err := sbx.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, e2b.StateRunning, info.State)

	var streamed []string
	exec, err := sbx.RunCode(ctx, "print('hello from tta'); 6 * 7", e2b.RunCodeOptions{
		OnStdout: func(m e2b.OutputMessage) { streamed = append(streamed, m.Line) },
	})
	require.NoError(t, err)
	assert.Nil(t, exec.Error)
	assert.Equal(t, "42", exec.Text())
	assert.Equal(t, []string{"hello from tta\n"}, streamed)

	exec, err = sbx.RunCode(ctx, "1 / 0", e2b.RunCodeOptions{})
	require.NoError(t, err, "an exception is a result")
	require.NotNil(t, exec.Error)
	assert.Equal(t, "ZeroDivisionError", exec.Error.Name)

	_, err = sbx.WriteFile(ctx, "/home/user/tta.txt", []byte("data"))
	require.NoError(t, err)
	data, err := sbx.ReadFile(ctx, "/home/user/tta.txt")
	require.NoError(t, err)
	assert.Equal(t, "data", string(data))

	res, err := sbx.RunCommand(ctx, "cat /home/user/tta.txt; echo oops >&2; exit 3", e2b.CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "data", res.Stdout)
	assert.Equal(t, "oops", strings.TrimSpace(res.Stderr))
}
