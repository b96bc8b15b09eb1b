package tta_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// A session whose sandbox expired on the E2B-compatible server says which
// sandbox is gone, how old it was and how many executions ran in it, on that
// call and every later one.
func TestSessionLost_ExpiredSandboxSaysWhatWasLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		exec := testenv.ServerExec(t, env, tta.WithSandboxTimeout(time.Minute))
		s := newSession(t, exec)
		id := s.SandboxID()
		for range 3 {
			_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
			require.NoError(t, err)
		}
		time.Sleep(2 * time.Minute) // unused for longer than the sandbox timeout
		require.Empty(t, env.Server.Sandboxes(), "the server expired it")

		for range 2 {
			_, err := s.Execute(t.Context(), tta.CodeInput{Code: "print(x)"})
			var lost *tta.SessionLostError
			require.ErrorAs(t, err, &lost)
			assert.Equal(t, id, lost.SandboxID)
			assert.Equal(t, 3, lost.Executions)
			assert.GreaterOrEqual(t, lost.Age, 2*time.Minute)
			assert.ErrorIs(t, err, tta.ErrSandboxGone)
			assert.False(t, tta.IsTransient(err))
			var se *tta.SandboxError
			assert.ErrorAs(t, err, &se, "the error that showed it gone is kept")
			assert.Contains(t, err.Error(), "session lost: sandbox "+id+" is gone after 2m")
			assert.Contains(t, err.Error(), "and 3 executions")
		}
	})
}

// Executions counts the calls whose code ran, a raised exception included.
func TestSessionLost_CountsRunsThatRaised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("1/0", ttatest.Output{Error: &tta.ExecutionError{Name: "ZeroDivisionError"}})
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)
		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "1/0"})
		require.NoError(t, err)
		require.NotNil(t, out.Error)
		time.Sleep(time.Second)
		p.Sandboxes()[0].Expire()
		_, err = s.Execute(t.Context(), tta.CodeInput{Code: "x"})
		var lost *tta.SessionLostError
		require.ErrorAs(t, err, &lost)
		assert.Equal(t, 2, lost.Executions)
		assert.Equal(t, time.Second, lost.Age)
	})
}

// With WithRecreateSessions the call after the loss starts over in a new
// sandbox and says so; nothing is replayed.
func TestSessionLost_RecreateStartsOverAndSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithRecreateSessions())
		s := newSession(t, exec)
		first := s.SandboxID()
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)
		p.Sandbox(first).Expire()

		_, err = s.Execute(t.Context(), tta.CodeInput{Code: "print(x)"})
		var lost *tta.SessionLostError
		require.ErrorAs(t, err, &lost, "the call that finds it gone fails")
		assert.Equal(t, 1, lost.Executions)

		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "y = 2"})
		require.NoError(t, err)
		assert.True(t, out.StateReset)
		assert.NotEqual(t, first, out.SandboxID)
		assert.Equal(t, out.SandboxID, s.SandboxID())
		assert.Equal(t, "session "+out.SandboxID+" on "+tta.DefaultTemplateName, s.String())
		assert.Equal(t, 1, out.ExecutionCount, "a fresh interpreter")

		out, err = s.Execute(t.Context(), tta.CodeInput{Code: "y"})
		require.NoError(t, err)
		assert.False(t, out.StateReset, "only the first call in the new sandbox is flagged")
		require.Len(t, p.Sandboxes(), 2)
		assert.Len(t, p.Sandboxes()[0].Runs(), 1, "nothing replayed in the old sandbox")
		assert.Len(t, p.Sandboxes()[1].Runs(), 2, "nothing replayed in the new one")
		assert.True(t, p.Sandboxes()[0].Killed() || p.Sandboxes()[0].Deadline().Before(time.Now()))

		require.NoError(t, s.Close())
		assert.True(t, p.Sandboxes()[1].Killed())
	})
}

// A new sandbox that cannot be made fails the call; the next call tries again.
func TestSessionLost_RecreateFailureIsRetriedByTheNextCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithRecreateSessions())
		s := newSession(t, exec)
		p.Sandboxes()[0].Expire()
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)

		p.Fail(ttatest.Fault{Op: ttatest.OpCreate, Err: errors.New("quota exceeded"), Nth: 1})
		_, err = s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "create", se.Op)

		out, err := s.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.True(t, out.StateReset)
		assert.Len(t, p.Sandboxes(), 2)
	})
}

// A call in the new sandbox that fails before its code runs does not use up
// the flag: the first call whose code runs still says the state was reset.
func TestSessionLost_ResetFlaggedUntilCodeRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithRecreateSessions())
		s := newSession(t, exec)
		p.Sandboxes()[0].Expire()
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)

		p.Fail(ttatest.Fault{Op: ttatest.OpFiles, Nth: 1, Err: errors.New("disk full")})
		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "1", Files: []tta.File{{Path: "a.txt", Data: []byte("a")}}})
		require.ErrorContains(t, err, "disk full")
		assert.True(t, out.StateReset)

		out, err = s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.True(t, out.StateReset, "the first call whose code ran")
		out, err = s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.False(t, out.StateReset)
	})
}
