package ttatemporal

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// retriedAttempt runs the code activity once in an activity environment
// whose earlier attempt's last heartbeat was prev, and returns its error,
// the fake it ran on and the sandboxes the killer was given.
func retriedAttempt(t *testing.T, prev Progress, opts ...Option) (error, *ttatest.FakeProvider, []string) {
	t.Helper()
	recordStarts(t)
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, exec.Close()); fake.AssertNoLeaks(t) })
	var mu sync.Mutex
	var killed []string
	opts = append(opts, WithSandboxKiller(func(ctx context.Context, id string) error {
		mu.Lock()
		defer mu.Unlock()
		killed = append(killed, id)
		return nil
	}))
	a, err := NewActivity("code", tta.Primitive[tta.CodeInput, tta.CodeOutput](exec), opts...)
	require.NoError(t, err)
	s := quietSuite()
	env := s.NewTestActivityEnvironment()
	a.Register(env)
	env.SetHeartbeatDetails(prev)
	_, err = env.ExecuteActivity("code", tta.CodeInput{Code: `print("side effect")`})
	mu.Lock()
	defer mu.Unlock()
	return err, fake, killed
}

func TestRetriedAttemptRefusesCodeThatMayHaveRun(t *testing.T) {
	err, fake, killed := retriedAttempt(t, Progress{SandboxIDs: []string{"sbx-lost"}, CodeStarted: true})
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, TypeMayHaveRun, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "sbx-lost")
	assert.Contains(t, err.Error(), "WithRerunStartedCode")
	assert.Equal(t, 0, fake.Calls(ttatest.OpCreate), "the code was not run a second time")
	assert.Equal(t, []string{"sbx-lost"}, killed, "the lost attempt's sandbox was killed")

	back := FromTemporal(err)
	var mayRun *MayHaveRunError
	require.ErrorAs(t, back, &mayRun)
	assert.Equal(t, []string{"sbx-lost"}, mayRun.SandboxIDs)
	assert.ErrorIs(t, back, ErrMayHaveRun)
}

func TestRetriedAttemptRerunsWhenAllowed(t *testing.T) {
	err, fake, killed := retriedAttempt(t, Progress{SandboxIDs: []string{"sbx-lost"}, CodeStarted: true}, WithRerunStartedCode())
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Calls(ttatest.OpRun))
	assert.Equal(t, []string{"sbx-lost"}, killed)
}

func TestRetriedAttemptRunsCodeThatNeverStarted(t *testing.T) {
	err, fake, killed := retriedAttempt(t, Progress{SandboxIDs: []string{"sbx-waiting"}})
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Calls(ttatest.OpRun), "the lost attempt's code had not started: running it is safe")
	assert.Equal(t, []string{"sbx-waiting"}, killed, "its sandbox was killed all the same")
}

func TestFirstAttemptKillsNothing(t *testing.T) {
	err, fake, killed := retriedAttempt(t, Progress{})
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Calls(ttatest.OpRun))
	assert.Empty(t, killed)
}

func TestMayHaveRunErrorMatchesItsSentinel(t *testing.T) {
	err := &MayHaveRunError{Attempt: 2, SandboxIDs: []string{"a", "b"}}
	assert.ErrorIs(t, err, ErrMayHaveRun)
	assert.False(t, tta.IsTransient(err))
	assert.Equal(t, "ttatemporal: attempt 2 started running the code and did not complete (sandbox a, b); not running it again, since it may have run: check its effects, then start a new workflow or retry with WithRerunStartedCode", err.Error())
	assert.False(t, errors.Is(errors.New("x"), ErrMayHaveRun))
}

func TestStartReachesTheServerBeforeTheCodeRuns(t *testing.T) {
	var mu sync.Mutex
	var beats []Progress
	fake := ttatest.NewFakeProvider()
	var seenAtRun []Progress
	fake.Handle(func(ctx context.Context, r ttatest.Run) (ttatest.Output, error) {
		mu.Lock()
		defer mu.Unlock()
		seenAtRun = append([]Progress(nil), beats...)
		return ttatest.Output{}, nil
	})
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	defer exec.Close()
	a, err := NewActivity("code", tta.Primitive[tta.CodeInput, tta.CodeOutput](exec))
	require.NoError(t, err)
	s := quietSuite()
	env := s.NewTestActivityEnvironment()
	env.SetOnActivityHeartbeatListener(func(info *activityInfo, details encodedValues) {
		var p Progress
		require.NoError(t, details.Get(&p))
		mu.Lock()
		beats = append(beats, p)
		mu.Unlock()
	})
	a.Register(env)
	_, err = env.ExecuteActivity("code", tta.CodeInput{Code: "x = 1"})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seenAtRun, "a heartbeat reached the server before the code ran")
	last := seenAtRun[len(seenAtRun)-1]
	assert.True(t, last.CodeStarted)
	assert.Len(t, last.SandboxIDs, 1)
}

func TestStepAfterCodeFailingDoesNotRunTheCodeAgain(t *testing.T) {
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	defer exec.Close()
	var summaries atomic.Int32
	summarise := tta.Func[tta.CodeOutput, string](func(ctx context.Context, out tta.CodeOutput) (string, error) {
		summaries.Add(1)
		return "", ttatest.Transient(errors.New("model overloaded"))
	})
	flow := tta.Then(tta.Primitive[tta.CodeInput, tta.CodeOutput](exec), summarise)
	a, err := NewActivity("code-then-summary", tta.Retry(flow, fastRetry...))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, tta.CodeInput{Code: `print("side effect")`})
	var mayRun *MayHaveRunError
	require.ErrorAs(t, err, &mayRun, "got %v", err)
	assert.Equal(t, 1, mayRun.Attempt)
	assert.Equal(t, 1, fake.Calls(ttatest.OpRun), "the code ran once although the step after it was retried")
	assert.Equal(t, int32(1), summaries.Load())
}
