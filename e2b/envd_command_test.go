package e2b_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// stepsRuntime answers the command "steps" with "step 1" to "step 10", one
// a second, and exit code 3.
func stepsRuntime() *e2bserver.ScriptedRuntime {
	return &e2bserver.ScriptedRuntime{
		Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
			if cmd.Line != "steps" {
				return 0, nil
			}
			for i := 1; i <= 10; i++ {
				if err := cmd.Stdout(fmt.Sprintf("step %d\n", i)); err != nil {
					return 0, err
				}
				if err := cmd.Sleep(time.Second); err != nil {
					return 0, err
				}
			}
			return 3, nil
		},
	}
}

// cutTransport cuts the answer of every Start stream once cut is closed, as a
// network failure or a proxy's deadline would: the body's reads fail with
// io.ErrUnexpectedEOF.
type cutTransport struct {
	inner http.RoundTripper
	cut   chan struct{}
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/process.Process/Start") {
		return resp, err
	}
	body := resp.Body
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.cut:
			_ = body.Close()
		case <-stop:
		}
	}()
	resp.Body = &cutBody{ReadCloser: body, cut: c.cut, stop: sync.OnceFunc(func() { close(stop) })}
	return resp, nil
}

type cutBody struct {
	io.ReadCloser
	cut  chan struct{}
	stop func()
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	select {
	case <-b.cut:
		return 0, io.ErrUnexpectedEOF
	default:
	}
	return n, err
}

func (b *cutBody) Close() error {
	b.stop()
	return b.ReadCloser.Close()
}

func TestStartCommand_WaitReturnsTheResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(stepsRuntime()))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		var streamed []string
		h, err := sbx.StartCommand(t.Context(), "steps", e2b.CommandOptions{OnStdout: func(s string) { streamed = append(streamed, s) }})
		require.NoError(t, err)
		assert.NotZero(t, h.PID())
		start := time.Now()
		res, err := h.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, res.ExitCode)
		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.True(t, strings.HasPrefix(res.Stdout, "step 1\nstep 2\n"))
		assert.True(t, strings.HasSuffix(res.Stdout, "step 10\n"))
		assert.Equal(t, res.Stdout, strings.Join(streamed, ""))
		again, err := h.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, res, again, "Wait may be called again")
	})
}

// A stream cut mid-command is reported as interrupted, the process goes on,
// and connecting again by PID reads the rest of its output and its exit code.
func TestConnectCommand_ReadsOnAfterACutStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(stepsRuntime()))
		cut := &cutTransport{inner: env.HTTPClient.Transport, cut: make(chan struct{})}
		client, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithHTTPClient(&http.Client{Transport: cut}))...)
		require.NoError(t, err)
		defer client.CloseIdleConnections()
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)

		h, err := sbx.StartCommand(t.Context(), "steps", e2b.CommandOptions{})
		require.NoError(t, err)
		time.Sleep(3500 * time.Millisecond)
		close(cut.cut)
		res, err := h.Wait(t.Context())
		require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
		assert.Contains(t, err.Error(), fmt.Sprintf("ConnectCommand(%d)", h.PID()))
		assert.Equal(t, "step 1\nstep 2\nstep 3\nstep 4\n", res.Stdout, "the output before the cut")

		again, err := sbx.ConnectCommand(t.Context(), h.PID(), e2b.CommandOptions{})
		require.NoError(t, err)
		assert.Equal(t, h.PID(), again.PID())
		rest, err := again.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, rest.ExitCode, "the process ran to its end, once")
		assert.Equal(t, "step 5\nstep 6\nstep 7\nstep 8\nstep 9\nstep 10\n", rest.Stdout)

		_, err = sbx.ConnectCommand(t.Context(), h.PID(), e2b.CommandOptions{})
		require.ErrorIs(t, err, e2b.ErrNotFound, "the process has ended")
	})
}

// Disconnect leaves the process running; Kill ends it.
func TestCommandHandle_DisconnectThenKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(stepsRuntime()))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		h, err := sbx.StartCommand(t.Context(), "steps", e2b.CommandOptions{})
		require.NoError(t, err)
		time.Sleep(1500 * time.Millisecond)
		h.Disconnect()
		_, err = h.Wait(t.Context())
		require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
		assert.Contains(t, err.Error(), "disconnected from process")

		again, err := sbx.ConnectCommand(t.Context(), h.PID(), e2b.CommandOptions{})
		require.NoError(t, err, "still running")
		require.NoError(t, again.Kill(t.Context()))
		res, err := again.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, -1, res.ExitCode, "killed")
	})
}

func TestCommandHandle_BadArguments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(stepsRuntime()))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		_, err = sbx.StartCommand(t.Context(), "steps", e2b.CommandOptions{Timeout: time.Second})
		require.ErrorContains(t, err, "Timeout must be 0")
		_, err = sbx.ConnectCommand(t.Context(), 0, e2b.CommandOptions{})
		require.ErrorContains(t, err, "pid must be > 0")
		_, err = sbx.ConnectCommand(t.Context(), 7, e2b.CommandOptions{Cwd: "/tmp"})
		require.ErrorContains(t, err, "must be zero")
		_, err = sbx.ConnectCommand(t.Context(), 4242, e2b.CommandOptions{})
		require.ErrorIs(t, err, e2b.ErrNotFound)
	})
}
