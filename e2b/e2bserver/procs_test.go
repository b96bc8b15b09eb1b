package e2bserver

import (
	"context"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/internal/envd/process"
)

// ticker prints "tick N" every second for ten seconds.
var ticker = &ScriptedRuntime{Command: func(ctx context.Context, cmd *Command) (int, error) {
	for i := 1; i <= 10; i++ {
		if err := cmd.Stdout(fmt.Sprintf("tick %d\n", i)); err != nil {
			return 0, err
		}
		if err := cmd.Sleep(time.Second); err != nil {
			return 0, err
		}
	}
	return 0, nil
}}

// A process outlives the stream that started it; Connect by tag attaches to
// it, from the start event on, and sees its end.
func TestProcessConnect_AttachesToARunningProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithRuntime(ticker))
		id := e.create(map[string]any{"templateID": "base"}).SandboxID
		proc, _ := e.envdClients(id, true, nil)

		tag := "job-1"
		startCtx, stop := context.WithCancel(t.Context())
		stream, err := proc.Start(startCtx, connect.NewRequest(&process.StartRequest{
			Process: &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", "ticker"}}, Tag: &tag,
		}))
		require.NoError(t, err)
		require.True(t, stream.Receive())
		pid := stream.Msg().GetEvent().GetStart().GetPid()
		require.NotZero(t, pid)
		stop() // the client goes away
		_ = stream.Close()

		time.Sleep(3500 * time.Millisecond)
		conn, err := proc.Connect(t.Context(), connect.NewRequest(&process.ConnectRequest{
			Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}},
		}))
		require.NoError(t, err)
		var out string
		var start, end *process.ProcessEvent
		for conn.Receive() {
			ev := conn.Msg().GetEvent()
			switch {
			case ev.GetStart() != nil:
				start = ev
			case ev.GetData() != nil:
				out += string(ev.GetData().GetStdout())
			case ev.GetEnd() != nil:
				end = ev
			}
		}
		require.NoError(t, conn.Err())
		require.NotNil(t, start)
		assert.Equal(t, pid, start.GetStart().GetPid())
		assert.Equal(t, "tick 5\ntick 6\ntick 7\ntick 8\ntick 9\ntick 10\n", out, "from the moment it attached")
		require.NotNil(t, end)
		assert.True(t, end.GetEnd().GetExited())

		gone, err := proc.Connect(t.Context(), connect.NewRequest(&process.ConnectRequest{
			Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}},
		}))
		require.NoError(t, err)
		assert.False(t, gone.Receive())
		assert.Equal(t, connect.CodeNotFound, connect.CodeOf(gone.Err()), "the process has ended")
		_ = gone.Close()
	})
}

// Killing the sandbox ends its processes and the streams attached to them.
func TestProcessConnect_SandboxEndEndsTheProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithRuntime(ticker))
		id := e.create(map[string]any{"templateID": "base"}).SandboxID
		proc, _ := e.envdClients(id, false, nil)
		stream, err := proc.Start(t.Context(), connect.NewRequest(&process.StartRequest{
			Process: &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", "ticker"}},
		}))
		require.NoError(t, err)
		require.True(t, stream.Receive())
		time.Sleep(time.Second)
		requireStatus(t, 204, e.api("DELETE", "/sandboxes/"+id, nil))
		for stream.Receive() {
			assert.Nil(t, stream.Msg().GetEvent().GetEnd(), "no end event: the stream is cut")
		}
		assert.Error(t, stream.Err())
	})
}

// SendInput by tag reaches the process; an Instance that takes no stdin is
// answered Unimplemented.
func TestSendInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		echo := &ScriptedRuntime{Command: func(ctx context.Context, cmd *Command) (int, error) {
			data, err := io.ReadAll(cmd.Stdin())
			if err != nil {
				return 0, err
			}
			return 0, cmd.Stdout("read " + string(data))
		}}
		for _, tc := range []struct {
			name string
			rt   Runtime
		}{{"scripted", echo}, {"without stdin", &countingRuntime{Runtime: echo}}} {
			e := newEnv(t, WithRuntime(tc.rt))
			id := e.create(map[string]any{"templateID": "base"}).SandboxID
			proc, _ := e.envdClients(id, true, nil)
			tag := "reader"
			stream, err := proc.Start(t.Context(), connect.NewRequest(&process.StartRequest{
				Process: &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", "reader"}}, Tag: &tag,
			}))
			require.NoError(t, err)
			require.True(t, stream.Receive())
			sel := &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}}
			_, err = proc.SendInput(t.Context(), connect.NewRequest(&process.SendInputRequest{
				Process: sel, Input: &process.ProcessInput{Input: &process.ProcessInput_Stdin{Stdin: []byte("hello")}},
			}))
			if tc.name == "without stdin" {
				assert.Equal(t, connect.CodeUnimplemented, connect.CodeOf(err), tc.name)
				_, err = proc.SendSignal(t.Context(), connect.NewRequest(&process.SendSignalRequest{Process: sel, Signal: process.Signal_SIGNAL_SIGKILL}))
				require.NoError(t, err)
				for stream.Receive() {
				}
				continue
			}
			require.NoError(t, err, tc.name)
			_, err = proc.CloseStdin(t.Context(), connect.NewRequest(&process.CloseStdinRequest{Process: sel}))
			require.NoError(t, err)
			var out string
			for stream.Receive() {
				out += string(stream.Msg().GetEvent().GetData().GetStdout())
			}
			require.NoError(t, stream.Err())
			assert.Equal(t, "read hello", out)
		}
	})
}
