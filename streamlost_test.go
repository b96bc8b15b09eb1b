package tta_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
)

// progressRuntime answers "train()" with a line of output a second, for a
// minute, and anything else with "ok".
func progressRuntime() *e2bserver.ScriptedRuntime {
	return &e2bserver.ScriptedRuntime{
		Replies: map[string]e2bserver.Reply{"1": {Result: "1"}},
		Exec: func(_ context.Context, c *e2bserver.Cell) error {
			for range 60 {
				if err := c.Stdout("step\n"); err != nil {
					return err
				}
				if err := c.Sleep(time.Second); err != nil {
					return err
				}
			}
			return c.Result("ok")
		},
	}
}

// A stream cut mid-run while the sandbox lives is reported as lost, with the
// sandbox and the context; the session goes on in the same sandbox.
func TestStreamLost_CutStreamOfALiveSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(progressRuntime()))
		exec := testenv.ServerExec(t, env)
		s := newSession(t, exec)
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		require.True(t, env.Server.SetSandboxFaults(s.SandboxID(), e2bserver.SandboxFaults{CutExecutionAfterLines: 5}))

		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "train()"})
		var lost *tta.StreamLostError
		require.ErrorAs(t, err, &lost)
		assert.ErrorIs(t, err, tta.ErrStreamLost)
		assert.NotErrorIs(t, err, tta.ErrSandboxGone)
		assert.False(t, tta.IsTransient(err))
		assert.Equal(t, s.SandboxID(), lost.SandboxID)
		assert.NotEmpty(t, lost.ContextID, "the session's context")
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Started)
		assert.Contains(t, out.Stdout, "step\n", "the output before the cut is kept")

		require.True(t, env.Server.SetSandboxFaults(s.SandboxID(), e2bserver.SandboxFaults{}))
		out, err = s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err, "the session is still usable")
		assert.False(t, out.StateReset)
	})
}

// A stream cut because the sandbox ended is not a lost stream: the session
// reports what was lost with it.
func TestStreamLost_SandboxEndedIsGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(progressRuntime()))
		exec := testenv.ServerExec(t, env)
		s := newSession(t, exec)
		require.True(t, env.Server.SetSandboxFaults(s.SandboxID(), e2bserver.SandboxFaults{ExpireAfterLines: 5}))
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "train()"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		assert.NotErrorIs(t, err, tta.ErrStreamLost)
		var lost *tta.SessionLostError
		require.ErrorAs(t, err, &lost, "reported on the call that lost it")
		assert.Equal(t, s.SandboxID(), lost.SandboxID)
	})
}
