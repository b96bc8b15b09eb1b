package e2btest_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// connCounter counts a server's open connections through http.Server.ConnState
// and signals when none is left.
type connCounter struct {
	mu     sync.Mutex
	open   int
	opened int
	idle   chan struct{} // receives when open drops to zero
}

func (c *connCounter) track(_ net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		c.open++
		c.opened++
	case http.StateClosed, http.StateHijacked:
		c.open--
		if c.open == 0 {
			select {
			case c.idle <- struct{}{}:
			default:
			}
		}
	}
}

func (c *connCounter) counts() (open, opened int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.opened
}

// TestNoLeakedGoroutinesOrConnections runs every kind of call, including
// cancelled and faulted ones, then checks that closing the client's idle
// connections leaves the server with no open connection, and that closing the
// server leaves no goroutine behind.
func TestNoLeakedGoroutinesOrConnections(t *testing.T) {
	before := goleak.IgnoreCurrent()
	conns := &connCounter{idle: make(chan struct{}, 1)}

	t.Run("workload", func(t *testing.T) {
		rt := &e2bserver.ScriptedRuntime{
			Replies:  map[string]e2bserver.Reply{"1+1": {Stdout: "x\n", Result: "2"}},
			Commands: map[string]e2bserver.CommandReply{"ls": {Stdout: "a\n"}},
			Exec: func(ctx context.Context, c *e2bserver.Cell) error {
				if err := c.Stdout("blocking\n"); err != nil {
					return err
				}
				<-ctx.Done()
				return ctx.Err()
			},
			Command: func(ctx context.Context, cmd *e2bserver.Command) (int, error) {
				if err := cmd.Stdout("running\n"); err != nil {
					return 0, err
				}
				<-ctx.Done()
				return 0, ctx.Err()
			},
		}
		key := "e2b_00112233445566778899aabbccddeeff00112233"
		srv, err := e2bserver.New(e2bserver.WithAPIKey(key), e2bserver.WithRuntime(rt))
		require.NoError(t, err)
		ts := httptest.NewUnstartedServer(srv)
		ts.Config.ConnState = conns.track
		ts.Start()
		t.Cleanup(ts.Close)
		t.Cleanup(func() { require.NoError(t, srv.Close()) })
		client, err := e2b.NewClient(e2b.WithAPIKey(key), e2b.WithAPIURL(ts.URL), e2b.WithSandboxURL(ts.URL))
		require.NoError(t, err)
		ctx := t.Context()

		sbx, err := client.Create(ctx, e2b.CreateOptions{Secure: true})
		require.NoError(t, err)
		exec, err := sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, "2", exec.Text())
		_, err = sbx.WriteFile(ctx, "f.txt", []byte("f"))
		require.NoError(t, err)
		_, err = sbx.ReadFile(ctx, "f.txt")
		require.NoError(t, err)
		_, err = sbx.ListDir(ctx, "/home/user")
		require.NoError(t, err)
		_, err = sbx.RunCommand(ctx, "ls", e2b.CommandOptions{})
		require.NoError(t, err)
		_, err = client.List(ctx, e2b.ListOptions{})
		require.NoError(t, err)

		// Cancelled streams: the client closes their connections.
		cctx, cancel := context.WithCancel(ctx)
		_, err = sbx.RunCode(cctx, "block", e2b.RunCodeOptions{OnStdout: func(e2b.OutputMessage) { cancel() }})
		require.ErrorIs(t, err, context.Canceled)
		cctx, cancel = context.WithCancel(ctx)
		_, err = sbx.RunCommand(cctx, "block", e2b.CommandOptions{OnStdout: func(string) { cancel() }})
		require.ErrorIs(t, err, context.Canceled)

		// Faults: a reset, a cut stream, an error answer, an execution timeout.
		srv.Inject(e2bserver.Fault{Op: e2bserver.OpGet, Reset: true, Times: 1})
		client.CloseIdleConnections()
		_, err = client.Get(ctx, sbx.ID())
		require.Error(t, err)
		require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{CutExecutionAfterLines: 2}))
		_, err = sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
		require.ErrorIs(t, err, e2b.ErrExecutionInterrupted)
		require.True(t, srv.SetSandboxFaults(sbx.ID(), e2bserver.SandboxFaults{}))
		srv.Inject(e2bserver.Fault{Op: e2bserver.OpRun, Status: 503, Times: 1})
		_, err = sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
		require.Error(t, err)
		_, err = sbx.RunCode(ctx, "block", e2b.RunCodeOptions{Timeout: 50 * time.Millisecond})
		require.ErrorIs(t, err, e2b.ErrExecutionTimeout)

		killed, err := sbx.Kill(ctx)
		require.NoError(t, err)
		assert.True(t, killed)

		client.CloseIdleConnections()
		// The server sees the closes asynchronously: wait for the count to drop
		// (a stale signal from an earlier drop to zero only costs a loop).
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
	wait:
		for {
			if open, _ := conns.counts(); open == 0 {
				break
			}
			select {
			case <-conns.idle:
			case <-deadline.C:
				break wait
			}
		}
		open, opened := conns.counts()
		assert.Zero(t, open, "connections left open after CloseIdleConnections")
		assert.Greater(t, opened, 3, "the workload used several connections")
	})

	goleak.VerifyNone(t, before)
}

// TestInMemoryServerLeavesNothingBehind checks the same for e2btest's
// in-memory server after its cleanup.
func TestInMemoryServerLeavesNothingBehind(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Run("workload", func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		client := env.Client
		sbx, err := client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		_, err = sbx.RunCode(t.Context(), "1", e2b.RunCodeOptions{})
		require.NoError(t, err)
		_, err = sbx.RunCommand(t.Context(), "true", e2b.CommandOptions{})
		require.NoError(t, err)
	})
	goleak.VerifyNone(t, before)
}
