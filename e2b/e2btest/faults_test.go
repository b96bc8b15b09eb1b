package e2btest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
)

// These tests inject every fault the server offers and check the error the
// client returns: its identity (errors.Is), RetryAfter and Transient.

func TestStatusFaultsSurfaceAsAPIErrors(t *testing.T) {
	env := e2btest.Start(t)
	client, srv := env.Client, env.Server
	ctx := t.Context()
	sbx, err := client.Create(ctx, e2b.CreateOptions{})
	require.NoError(t, err)
	_, err = sbx.WriteFile(ctx, "/tmp/x", []byte("x"))
	require.NoError(t, err)

	tests := []struct {
		name       string
		fault      e2bserver.Fault
		call       func() error
		wantStatus int
		retryAfter time.Duration
		transient  bool
	}{
		{"create 429 with Retry-After", e2bserver.Fault{Op: e2bserver.OpCreate, Status: 429, RetryAfter: 3 * time.Second},
			func() error { _, err := client.Create(ctx, e2b.CreateOptions{}); return err }, 429, 3 * time.Second, true},
		{"create 400", e2bserver.Fault{Op: e2bserver.OpCreate, Status: 400},
			func() error { _, err := client.Create(ctx, e2b.CreateOptions{}); return err }, 400, 0, false},
		{"list 503", e2bserver.Fault{Op: e2bserver.OpList, Status: 503},
			func() error { _, err := client.List(ctx, e2b.ListOptions{}); return err }, 503, 0, true},
		{"get 500", e2bserver.Fault{Op: e2bserver.OpGet, Status: 500},
			func() error { _, err := client.Get(ctx, sbx.ID()); return err }, 500, 0, true},
		{"kill 502 without a port", e2bserver.Fault{Op: e2bserver.OpKill, Status: 502},
			func() error { _, err := client.Kill(ctx, "other"); return err }, 502, 0, true},
		{"set timeout 504", e2bserver.Fault{Op: e2bserver.OpSetTimeout, Status: 504},
			func() error { return sbx.SetTimeout(ctx, time.Minute) }, 504, 0, true},
		{"run code 429 with Retry-After", e2bserver.Fault{Op: e2bserver.OpRun, Status: 429, RetryAfter: 1500 * time.Millisecond},
			func() error {
				exec, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
				if err != nil {
					assert.Nil(t, exec, "nothing ran")
				}
				return err
			}, 429, 2 * time.Second, true},
		{"run code 500", e2bserver.Fault{Op: e2bserver.OpRun, Status: 500},
			func() error { _, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{}); return err }, 500, 0, true},
		{"contexts 503", e2bserver.Fault{Op: e2bserver.OpContext, Status: 503},
			func() error { _, err := sbx.ListContexts(ctx); return err }, 503, 0, true},
		{"filesystem rpc 429 with Retry-After", e2bserver.Fault{Op: e2bserver.OpFilesystem, Status: 429, RetryAfter: 4 * time.Second},
			func() error { _, err := sbx.Stat(ctx, "/tmp"); return err }, 429, 4 * time.Second, true},
		{"files 503", e2bserver.Fault{Op: e2bserver.OpFiles, Status: 503},
			func() error { _, err := sbx.ReadFile(ctx, "/tmp/x"); return err }, 503, 0, true},
		{"command stream 503", e2bserver.Fault{Op: e2bserver.OpCommand, Status: 503},
			func() error { _, err := sbx.RunCommand(ctx, "true", e2b.CommandOptions{}); return err }, 503, 0, true},
		{"envd health 403", e2bserver.Fault{Op: e2bserver.OpEnvdProbe, Status: 403},
			func() error { return sbx.EnvdHealth(ctx) }, 403, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fault.Times = 1
			srv.Inject(tt.fault)
			err := tt.call()
			var apiErr *e2b.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.Equal(t, tt.wantStatus, apiErr.Code, "the body's code")
			assert.NotEmpty(t, apiErr.Message)
			assert.Equal(t, tt.retryAfter, apiErr.RetryAfter())
			assert.Equal(t, tt.transient, apiErr.Transient())
			assert.Equal(t, tt.transient, isTransient(err), "through the error chain")
			assert.NotErrorIs(t, err, e2b.ErrSandboxNotFound)
			assert.NotErrorIs(t, err, e2b.ErrPortNotOpen)
			require.NoError(t, tt.call(), "the fault was used up")
		})
	}
}

func TestWrongAPIKeyIsUnauthorized(t *testing.T) {
	env := e2btest.Start(t)
	other, err := e2b.NewClient(e2b.WithAPIKey("e2b_00000000000000000000000000000000deadbeef"), e2b.WithAPIURL(env.URL), e2b.WithSandboxURL(env.URL))
	require.NoError(t, err)
	defer other.CloseIdleConnections()
	_, err = other.Create(t.Context(), e2b.CreateOptions{})
	require.ErrorIs(t, err, e2b.ErrUnauthorized)
	assert.False(t, isTransient(err))
	assert.NotContains(t, err.Error(), "deadbeef", "the key is redacted")
}

func TestPortNotOpenForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithTemplates(e2bserver.Template{
			ID: "heavy00000000000000000", Alias: "heavy",
			Faults: e2bserver.SandboxFaults{NeverReady: true},
		}))
		client, srv := env.Client, env.Server
		ctx := t.Context()
		sbx, err := client.Create(ctx, e2b.CreateOptions{Template: "heavy", Timeout: time.Hour})
		require.NoError(t, err)
		for range 3 {
			err := sbx.InterpreterHealth(ctx)
			require.ErrorIs(t, err, e2b.ErrPortNotOpen)
			assert.True(t, isTransient(err), "transient: the caller decides how long to wait")
			exec, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
			assert.Nil(t, exec)
			var apiErr *e2b.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, e2b.InterpreterPort, apiErr.Port)
			assert.Equal(t, sbx.ID(), apiErr.SandboxID)
			assert.Equal(t, wire.MessagePortNotOpen, apiErr.Message)
			time.Sleep(10 * time.Minute)
		}
		require.NoError(t, sbx.EnvdHealth(ctx), "envd is up all along")
		assert.Equal(t, 3, srv.Calls(e2bserver.OpRun))

		// A port that opens for one live sandbox after a while.
		require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{ReadyAfter: 30 * time.Second}))
		time.Sleep(29 * time.Second)
		require.ErrorIs(t, sbx.InterpreterHealth(ctx), e2b.ErrPortNotOpen)
		time.Sleep(time.Second)
		require.NoError(t, sbx.InterpreterHealth(ctx))
	})
}

func TestSlowCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		client, srv := env.Client, env.Server
		srv.Inject(e2bserver.Fault{Op: e2bserver.OpCreate, Delay: 50 * time.Second, Times: 3})

		// The caller's deadline ends the wait; it is the caller's error.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := client.Create(ctx, e2b.CreateOptions{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var transportErr *e2b.TransportError
		assert.NotErrorAs(t, err, &transportErr)
		assert.False(t, isTransient(err))
		assert.Equal(t, 10*time.Second, time.Since(start))

		// The client's request timeout ends it: transient.
		impatient, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithRequestTimeout(5*time.Second))...)
		require.NoError(t, err)
		start = time.Now()
		_, err = impatient.Create(t.Context(), e2b.CreateOptions{})
		require.ErrorIs(t, err, e2b.ErrRequestTimeout)
		require.ErrorAs(t, err, &transportErr)
		assert.True(t, isTransient(err))
		assert.Equal(t, 5*time.Second, time.Since(start))

		synctest.Wait()
		assert.Empty(t, srv.Sandboxes(), "an abandoned create creates nothing")

		// A slow create within the request timeout (60 s) succeeds after the delay.
		start = time.Now()
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, 50*time.Second, time.Since(start))
		assert.Len(t, srv.Sandboxes(), 1)
		killed, err := sbx.Kill(t.Context())
		require.NoError(t, err)
		assert.True(t, killed)
	})
}

func TestConnectionResetIsATransientTransportError(t *testing.T) {
	env := e2btest.Start(t)
	client, srv := env.Client, env.Server
	ctx := t.Context()
	sbx, err := client.Create(ctx, e2b.CreateOptions{})
	require.NoError(t, err)

	tests := []struct {
		name string
		op   e2bserver.Op
		call func() error
	}{
		{"create", e2bserver.OpCreate, func() error { _, err := client.Create(ctx, e2b.CreateOptions{}); return err }},
		{"get", e2bserver.OpGet, func() error { _, err := client.Get(ctx, sbx.ID()); return err }},
		{"interpreter health", e2bserver.OpProbe, func() error { return sbx.InterpreterHealth(ctx) }},
		{"filesystem rpc", e2bserver.OpFilesystem, func() error { _, err := sbx.Stat(ctx, "/tmp"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// On a fresh connection: net/http replays an idempotent request
			// whose reused connection breaks, and the fault would go unseen.
			client.CloseIdleConnections()
			srv.Inject(e2bserver.Fault{Op: tt.op, Reset: true, Times: 1})
			err := tt.call()
			var transportErr *e2b.TransportError
			require.ErrorAs(t, err, &transportErr)
			assert.True(t, transportErr.Transient())
			assert.True(t, isTransient(err))
			assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
				errors.Is(err, net.ErrClosed), "a reset, an early EOF, or a connection closed under the request: %v", err)
			require.NoError(t, tt.call())
		})
	}

	t.Run("run code", func(t *testing.T) {
		client.CloseIdleConnections()
		srv.Inject(e2bserver.Fault{Op: e2bserver.OpRun, Reset: true, Times: 1})
		_, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
		// The request was written before the connection broke: the code may
		// have run, so the client does not call it transient.
		require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
		assert.False(t, isTransient(err))
	})
}

func TestStreamCutAndExpiryMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &e2bserver.ScriptedRuntime{Exec: func(_ context.Context, c *e2bserver.Cell) error {
			for i := 0; ; i++ {
				if err := c.Stdout("line\n"); err != nil {
					return err
				}
				if err := c.Sleep(time.Second); err != nil {
					return err
				}
			}
		}}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		client, srv := env.Client, env.Server
		ctx := t.Context()

		step("stream cut: interrupted, the sandbox lives on", func() {
			sbx, err := client.Create(ctx, e2b.CreateOptions{})
			require.NoError(t, err)
			require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{CutExecutionAfterLines: 3}))
			exec, err := sbx.RunCode(ctx, "loop", e2b.RunCodeOptions{})
			require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
			assert.False(t, isTransient(err))
			require.NotNil(t, exec)
			assert.Equal(t, []string{"line\n", "line\n"}, exec.Logs.Stdout, "count and two lines were written")
			assert.NoError(t, sbx.EnvdHealth(ctx))
		})
		step("expiry after lines: interrupted, then gone", func() {
			sbx, err := client.Create(ctx, e2b.CreateOptions{})
			require.NoError(t, err)
			require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{ExpireAfterLines: 4}))
			exec, err := sbx.RunCode(ctx, "loop", e2b.RunCodeOptions{})
			require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
			assert.Len(t, exec.Logs.Stdout, 3)
			for _, err := range []error{
				func() error { _, err := sbx.RunCode(ctx, "1", e2b.RunCodeOptions{}); return err }(),
				sbx.EnvdHealth(ctx),
				func() error { _, err := sbx.Info(ctx); return err }(),
			} {
				assert.ErrorIs(t, err, e2b.ErrSandboxNotFound)
				assert.False(t, isTransient(err))
			}
			killed, err := sbx.Kill(ctx)
			require.NoError(t, err)
			assert.False(t, killed)
		})
		step("expired by the server mid-run", func() {
			sbx, err := client.Create(ctx, e2b.CreateOptions{})
			require.NoError(t, err)
			var lines atomic.Int32
			exec, err := sbx.RunCode(ctx, "loop", e2b.RunCodeOptions{OnStdout: func(e2b.OutputMessage) {
				if lines.Add(1) == 5 {
					require.True(t, srv.Expire(sbx.ID()))
				}
			}})
			require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
			assert.Len(t, exec.Logs.Stdout, 5)
			_, err = sbx.RunCode(ctx, "1", e2b.RunCodeOptions{})
			assert.ErrorIs(t, err, e2b.ErrSandboxNotFound)
		})
		assert.Len(t, srv.Sandboxes(), 1, "only the cut one lives")
	})
}

func TestCancellationInterruptsTheExecution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		observed := make(chan error, 1)
		rt := &e2bserver.ScriptedRuntime{Exec: func(ctx context.Context, c *e2bserver.Cell) error {
			if err := c.Stdout("started\n"); err != nil {
				return err
			}
			<-ctx.Done() // the kernel runs until it is interrupted
			observed <- ctx.Err()
			return ctx.Err()
		}}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		client := env.Client
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)

		step("cancelling ctx", func() {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			exec, err := sbx.RunCode(ctx, "while True: pass", e2b.RunCodeOptions{OnStdout: func(e2b.OutputMessage) { cancel() }})
			require.ErrorIs(t, err, context.Canceled)
			assert.False(t, isTransient(err))
			require.NotNil(t, exec, "the execution so far")
			assert.Equal(t, []string{"started\n"}, exec.Logs.Stdout)
			synctest.Wait()
			require.Len(t, observed, 1, "closing the connection interrupted the cell")
			assert.ErrorIs(t, <-observed, context.Canceled)
		})
		step("the execution timeout", func() {
			start := time.Now()
			_, err := sbx.RunCode(t.Context(), "while True: pass", e2b.RunCodeOptions{Timeout: 30 * time.Second})
			require.ErrorIs(t, err, e2b.ErrExecutionTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 30*time.Second, time.Since(start))
			synctest.Wait()
			require.Len(t, observed, 1, "the cell was interrupted")
			<-observed
		})
		step("a request timeout on the headers does not bound the stream", func() {
			// Keepalives every 5 s keep a 2-minute cell's answer alive although
			// the request timeout (60 s) is shorter.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			_, err := sbx.RunCode(ctx, "while True: pass", e2b.RunCodeOptions{})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.NotErrorIs(t, err, e2b.ErrExecutionTimeout, "ctx's deadline, not the execution timeout")
			synctest.Wait()
			<-observed
		})
	})
}

func TestLargeNDJSONLine(t *testing.T) {
	png := strings.Repeat("iVBORw0KGgoAAAANSUhEUg", (8<<20)/22+1)[:8<<20] // 8 MiB of base64
	rt := &e2bserver.ScriptedRuntime{Exec: func(_ context.Context, c *e2bserver.Cell) error {
		if err := c.Stdout("before\n"); err != nil {
			return err
		}
		if err := c.Emit(wire.ExecutionEvent{Type: wire.EventResult, PNG: png, Text: "<Figure>", IsMainResult: true}); err != nil {
			return err
		}
		return c.Stdout("after\n")
	}}
	env := e2btest.Start(t, e2bserver.WithRuntime(rt))
	client := env.Client
	sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
	require.NoError(t, err)
	var got int
	exec, err := sbx.RunCode(t.Context(), "plt.show()", e2b.RunCodeOptions{OnResult: func(r e2b.Result) { got = len(r.PNG) }})
	require.NoError(t, err)
	assert.Equal(t, 8<<20, got)
	require.Len(t, exec.Results, 1)
	assert.True(t, exec.Results[0].PNG == png, "the 8 MiB line arrives intact")
	assert.Equal(t, []string{"before\n", "after\n"}, exec.Logs.Stdout)
}

// TestOversizedExecutionCarriesTheServersHint sends more code than the
// interpreter accepts: the 413's FastAPI-style {"detail"} tells the caller what
// to do instead, and reaches the error's message.
func TestOversizedExecutionCarriesTheServersHint(t *testing.T) {
	env := e2btest.Start(t, e2bserver.WithRuntime(scripted))
	client := env.Client
	sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
	require.NoError(t, err)
	_, err = sbx.RunCode(t.Context(), "# "+strings.Repeat("x", 17<<20), e2b.RunCodeOptions{})
	var apiErr *e2b.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "16 MiB")
	assert.Contains(t, apiErr.Message, "POST /files")
	assert.Contains(t, err.Error(), "upload large data as a file")
	assert.False(t, apiErr.Transient())
}

// TestRequestTimeoutBoundsTheWaitForAnAnswerNotTheUpload holds the server
// before it reads a request. An upload's body cannot be written meanwhile (the
// in-memory connections have no buffer), and that time is not the request
// timeout's; a request already written waits for its answer no longer than the
// request timeout.
func TestRequestTimeoutBoundsTheWaitForAnAnswerNotTheUpload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(scripted))
		client, err := e2b.NewClient(append(env.ClientOptions(), e2b.WithRequestTimeout(5*time.Second))...)
		require.NoError(t, err)
		defer client.CloseIdleConnections()
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)

		step("an upload written over three request timeouts succeeds", func() {
			// 1 MiB is far more than the connection buffers: the body is
			// written only as the server reads it, after the delay.
			env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpFiles, Delay: 15 * time.Second, Times: 1})
			data := []byte(strings.Repeat("0123456789abcdef", 1<<16))
			start := time.Now()
			_, err := sbx.WriteFile(t.Context(), "big.bin", data)
			require.NoError(t, err)
			assert.Equal(t, 15*time.Second, time.Since(start))
			got, err := sbx.ReadFile(t.Context(), "big.bin")
			require.NoError(t, err)
			assert.True(t, string(got) == string(data), "the upload arrived whole")
		})

		step("a download waits for its answer no longer than the timeout", func() {
			env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpFiles, Delay: 15 * time.Second, Times: 1})
			start := time.Now()
			_, err := sbx.ReadFile(t.Context(), "big.bin")
			require.ErrorIs(t, err, e2b.ErrRequestTimeout)
			assert.True(t, isTransient(err))
			assert.Equal(t, 5*time.Second, time.Since(start))
		})

		step("an execution, once its code is sent, waits for its answer no longer than the timeout", func() {
			env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpRun, Delay: 15 * time.Second, Times: 1})
			start := time.Now()
			_, err := sbx.RunCode(t.Context(), "print('hello'); 1+1", e2b.RunCodeOptions{})
			assert.Equal(t, 5*time.Second, time.Since(start))
			require.ErrorIs(t, err, e2b.ErrRequestTimeout)
			assert.ErrorIs(t, err, e2b.ErrExecutionInterrupted, "the code was sent: it may run")
		})
		synctest.Wait()
	})
}
