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
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// forgetfulRuntime's sandboxes lose their interpreter contexts when paused,
// as a sandbox paused without its memory would.
type forgetfulRuntime struct{ e2bserver.ScriptedRuntime }

func (rt *forgetfulRuntime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	inst, err := rt.ScriptedRuntime.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return forgetfulInstance{inst}, nil
}

type forgetfulInstance struct{ e2bserver.Instance }

func (in forgetfulInstance) Pause(ctx context.Context) error {
	contexts, err := in.ListContexts(ctx)
	if err != nil {
		return err
	}
	for _, c := range contexts {
		_ = in.RemoveContext(ctx, c.ID)
	}
	return nil
}

func (forgetfulInstance) Resume(context.Context) error { return nil }

func serverState(t *testing.T, env *e2btest.Env) wire.SandboxState {
	t.Helper()
	sbs := env.Server.Sandboxes()
	require.Len(t, sbs, 1)
	return sbs[0].State
}

// A paused session does not expire; resumed, it reports that its state
// survived and goes on where it was.
func TestSessionPause_ResumeKeepsStateAndDoesNotExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		exec := testenv.ServerExec(t, env, tta.WithSandboxTimeout(time.Minute))
		s := newSession(t, exec)
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)

		require.NoError(t, s.Pause(t.Context()))
		require.NoError(t, s.Pause(t.Context()), "pausing twice does nothing")
		assert.Equal(t, wire.StatePaused, serverState(t, env))
		time.Sleep(10 * time.Minute) // ten sandbox timeouts

		got, err := s.Resume(t.Context())
		require.NoError(t, err)
		assert.Equal(t, tta.SessionResume{SandboxID: s.SandboxID(), Paused: 10 * time.Minute, StateKept: true}, got)
		assert.Equal(t, wire.StateRunning, serverState(t, env))
		assert.True(t, time.Now().Add(time.Minute).Equal(env.Server.Sandboxes()[0].EndAt), "resumed for the sandbox timeout")

		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "x"})
		require.NoError(t, err)
		assert.False(t, out.StateReset)
		assert.Equal(t, 2, out.ExecutionCount, "the same interpreter context")
	})
}

// Execute resumes a paused session by itself.
func TestSessionPause_ExecuteResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		exec := testenv.ServerExec(t, env)
		s := newSession(t, exec)
		require.NoError(t, s.Pause(t.Context()))
		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.False(t, out.StateReset)
		assert.Equal(t, wire.StateRunning, serverState(t, env))
	})
}

// A sandbox that comes back without its memory: Resume says which
// interpreter state was lost, and the next call in it is flagged.
func TestSessionPause_ReportsLostState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&forgetfulRuntime{}))
		exec := testenv.ServerExec(t, env)
		s := newSession(t, exec)
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)
		require.NoError(t, s.Pause(t.Context()))
		time.Sleep(time.Minute)

		got, err := s.Resume(t.Context())
		require.NoError(t, err)
		assert.False(t, got.StateKept)
		assert.Equal(t, []string{"python"}, got.Lost)
		assert.Equal(t, time.Minute, got.Paused)

		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "y = 2"})
		require.NoError(t, err, "a new context")
		assert.True(t, out.StateReset)
		assert.Equal(t, s.SandboxID(), out.SandboxID, "the same sandbox")
		out, err = s.Execute(t.Context(), tta.CodeInput{Code: "y"})
		require.NoError(t, err)
		assert.False(t, out.StateReset, "flagged once")
	})
}

// plainProvider hands out its provider's sandboxes as plain tta.Sandbox
// values, which cannot be paused.
type plainProvider struct{ *ttatest.FakeProvider }

func (p plainProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := p.FakeProvider.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	return struct{ tta.Sandbox }{sb}, nil
}

func TestSessionPause_UnsupportedProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.NewExec(t, func() []string { return nil }, tta.WithProvider(plainProvider{p}))
		s := newSession(t, exec)
		err := s.Pause(t.Context())
		require.ErrorContains(t, err, "cannot be paused")
		assert.False(t, tta.IsTransient(err))
		got, err := s.Resume(t.Context())
		require.NoError(t, err, "not paused: nothing to resume")
		assert.True(t, got.StateKept)
		_, err = s.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		p.AssertNoLeaks(t)
	})
}

// With the fake provider, a session's pause can be tested in unit tests:
// a template that loses its memory in a pause says so on Resume.
func TestSessionPause_FakeProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "forgetful", PauseLosesMemory: true})
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "forgetful"}))
		s := newSession(t, exec)
		_, err := s.Execute(t.Context(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)
		require.NoError(t, s.Pause(t.Context()))
		assert.True(t, p.Sandboxes()[0].Paused())
		got, err := s.Resume(t.Context())
		require.NoError(t, err)
		assert.False(t, got.StateKept)
		assert.Equal(t, []string{"python"}, got.Lost)
		out, err := s.Execute(t.Context(), tta.CodeInput{Code: "x"})
		require.NoError(t, err)
		assert.True(t, out.StateReset)
	})
}
