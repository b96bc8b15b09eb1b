package ttatemporal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// runInWorkflow runs a in a test workflow environment with in, from a
// workflow that calls Execute, and returns what Execute returned.
func runInWorkflow[In, Out any](t *testing.T, a *Activity[In, Out], in In) (Out, error) {
	t.Helper()
	s := quietSuite()
	env := s.NewTestWorkflowEnvironment()
	a.Register(env)
	var out Out
	var execErr error
	env.ExecuteWorkflow(func(ctx workflow.Context, in In) error {
		out, execErr = a.Execute(ctx, in)
		return nil
	}, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	return out, execErr
}

func TestExecuteRunsThePrimitiveAsAnActivity(t *testing.T) {
	a, err := NewActivity("double", tta.Retry(double(), tta.MaxAttempts(2)))
	require.NoError(t, err)
	out, err := runInWorkflow(t, a, 21)
	require.NoError(t, err)
	assert.Equal(t, 42, out)
}

// failing returns a primitive that fails with errs in turn, then succeeds,
// and counts its calls.
func failing(calls *atomic.Int32, errs ...error) tta.Primitive[int, int] {
	return tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		i := int(calls.Add(1)) - 1
		if i < len(errs) {
			return 0, errs[i]
		}
		return n, nil
	})
}

var fastRetry = []tta.RetryOption{tta.MaxAttempts(3), tta.InitialInterval(time.Millisecond), tta.MaxInterval(time.Millisecond)}

func TestTransientErrorsAreRetriedByTemporal(t *testing.T) {
	var calls atomic.Int32
	flaky := ttatest.Transient(errors.New("connection refused"))
	a, err := NewActivity("flaky", tta.Retry(failing(&calls, flaky, flaky), fastRetry...))
	require.NoError(t, err)
	out, err := runInWorkflow(t, a, 5)
	require.NoError(t, err)
	assert.Equal(t, 5, out)
	assert.Equal(t, int32(3), calls.Load(), "Temporal ran three attempts; tta's Retry did not run inside them")
}

func TestRetryExhaustedKeepsTheTransientKind(t *testing.T) {
	var calls atomic.Int32
	flaky := ttatest.Transient(errors.New("connection refused"))
	a, err := NewActivity("flaky", tta.Retry(failing(&calls, flaky, flaky, flaky, flaky), fastRetry...))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, 5)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, TypeTransient, e.Type)
	assert.True(t, e.Retryable)
	assert.True(t, tta.IsTransient(err))
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, int32(3), calls.Load())
	var actErr *temporal.ActivityError
	assert.ErrorAs(t, err, &actErr, "Temporal's own error is still there")
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	validation := tta.Permanent(errors.New("tta: CodeInput.Timeout must be >= 0"))
	refused := errors.New("refused by RetryIf")
	cases := []struct {
		name string
		err  error
		opts []tta.RetryOption
	}{
		{"Permanent", validation, fastRetry},
		{"Transient false", ttatest.Transient(nil), nil}, // replaced below
		{"RetryIf refuses", refused, append([]tta.RetryOption{tta.RetryIf(func(err error) bool { return err != refused })}, fastRetry...)},
	}
	cases[1].err = tta.TransientError(&terminal{})
	cases[1].opts = fastRetry
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			a, err := NewActivity("fails", tta.Retry(failing(&calls, c.err, c.err, c.err), c.opts...))
			require.NoError(t, err)
			_, err = runInWorkflow(t, a, 1)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, TypePermanent, e.Type)
			assert.False(t, e.Retryable)
			assert.False(t, tta.IsTransient(err))
			assert.Equal(t, int32(1), calls.Load(), "not retried")
			assert.Equal(t, c.err.Error(), err.Error())
		})
	}
}

type terminal struct{}

func (terminal) Error() string   { return "unauthorized" }
func (terminal) Transient() bool { return false }

func TestWithoutRetryThePrimitiveRunsOnce(t *testing.T) {
	var calls atomic.Int32
	a, err := NewActivity("once", failing(&calls, ttatest.Transient(errors.New("connection refused"))))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, 1)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.False(t, e.Retryable, "tta runs a primitive without Retry once")
	assert.Equal(t, TypeTransient, e.Type, "the type still says what the error is")
	assert.Equal(t, int32(1), calls.Load())
}

func TestTtaErrorTypesAreRecoverableInTheWorkflow(t *testing.T) {
	notReady := &tta.TemplateNotReadyError{Template: "tta-ml-minimal", SandboxID: "sbx-1", Port: 49999,
		Window: 2 * time.Minute, Waited: 119 * time.Second, Probes: 28, Last: fmt.Errorf("probe: %w", tta.ErrSandboxGone)}
	execErr := &tta.ExecutionError{Name: "ValueError", Value: "bad input", Traceback: "Traceback ...\nValueError: bad input"}
	install := &tta.InstallError{SandboxID: "sbx-2", Template: "base", Packages: []string{"nope"}, ExitCode: 1, Stderr: "no matching distribution"}
	sandbox := &tta.SandboxError{Op: "run", SandboxID: "sbx-3", Template: "base", Started: true, Err: errors.New("connection reset")}

	check := func(t *testing.T, orig error, wantType string, as func(t *testing.T, err error)) {
		t.Helper()
		a, err := NewActivity("fails", tta.Retry(failing(new(atomic.Int32), orig, orig, orig), fastRetry...))
		require.NoError(t, err)
		_, err = runInWorkflow(t, a, 1)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, wantType, e.Type)
		assert.Equal(t, orig.Error(), err.Error(), "the message is the original's")
		as(t, err)
	}
	t.Run("TemplateNotReady", func(t *testing.T) {
		check(t, notReady, TypeTemplateNotReady, func(t *testing.T, err error) {
			var got *tta.TemplateNotReadyError
			require.ErrorAs(t, err, &got)
			assert.Equal(t, notReady.Template, got.Template)
			assert.Equal(t, notReady.SandboxID, got.SandboxID)
			assert.Equal(t, notReady.Port, got.Port)
			assert.Equal(t, notReady.Window, got.Window)
			assert.Equal(t, notReady.Waited, got.Waited)
			assert.Equal(t, notReady.Probes, got.Probes)
			assert.ErrorIs(t, err, tta.ErrTemplateNotReady)
			assert.ErrorIs(t, got.Last, tta.ErrSandboxGone, "nested sentinels travel too")
			assert.Equal(t, notReady.Last.Error(), got.Last.Error())
		})
	})
	t.Run("CodeFailed", func(t *testing.T) {
		check(t, tta.Permanent(execErr), TypeCodeFailed, func(t *testing.T, err error) {
			var got *tta.ExecutionError
			require.ErrorAs(t, err, &got)
			assert.Equal(t, *execErr, *got)
			assert.ErrorIs(t, err, tta.ErrCodeFailed)
		})
	})
	t.Run("Install", func(t *testing.T) {
		check(t, install, TypeInstall, func(t *testing.T, err error) {
			var got *tta.InstallError
			require.ErrorAs(t, err, &got)
			assert.Equal(t, *install, *got)
		})
	})
	t.Run("Sandbox", func(t *testing.T) {
		check(t, tta.Permanent(sandbox), TypeSandbox, func(t *testing.T, err error) {
			var got *tta.SandboxError
			require.ErrorAs(t, err, &got)
			assert.Equal(t, "run", got.Op)
			assert.Equal(t, "sbx-3", got.SandboxID)
			assert.True(t, got.Started)
			assert.False(t, tta.CodeNotStarted(err), "the code may have started, on this side as on the other")
		})
	})
	t.Run("Timeout", func(t *testing.T) {
		orig := fmt.Errorf("model call: %w", tta.ErrTimeout)
		check(t, tta.Permanent(orig), TypeTimeout, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, tta.ErrTimeout)
			assert.NotErrorIs(t, err, tta.ErrCircuitOpen)
		})
	})
	t.Run("sentinels", func(t *testing.T) {
		orig := tta.Permanent(fmt.Errorf("all busy: %w", tta.ErrBulkheadFull))
		check(t, orig, TypePermanent, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, tta.ErrBulkheadFull)
		})
	})
}

func TestRetryAfterBecomesTheNextRetryDelay(t *testing.T) {
	err := ToTemporal(retryAfter{d: 7 * time.Second}, true)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, 7*time.Second, appErr.NextRetryDelay())
	assert.False(t, appErr.NonRetryable())
	assert.Nil(t, ToTemporal(nil, true))
	assert.Nil(t, FromTemporal(nil))
	plain := errors.New("not from an activity")
	assert.Same(t, plain, FromTemporal(plain))
}

type retryAfter struct{ d time.Duration }

func (e retryAfter) Error() string             { return "429 too many requests" }
func (e retryAfter) RetryAfter() time.Duration { return e.d }

func TestActivityTimeoutMatchesErrTimeout(t *testing.T) {
	slow := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	a, err := NewActivity("slow", tta.Retry(tta.Timeout(slow, 50*time.Millisecond), tta.MaxAttempts(1)))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, tta.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var timeoutErr *temporal.TimeoutError
	assert.ErrorAs(t, err, &timeoutErr)
	assert.Contains(t, err.Error(), "ran out of its start-to-close timeout")
}

func TestTimeoutAfterAFailedAttemptIsStillATimeout(t *testing.T) {
	var calls atomic.Int32
	p := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		if calls.Add(1) == 1 {
			return 0, ttatest.Transient(errors.New("connection refused"))
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	a, err := NewActivity("slow", tta.Retry(tta.Timeout(p, 50*time.Millisecond), tta.MaxAttempts(2), tta.InitialInterval(time.Millisecond)))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, 1)
	assert.ErrorIs(t, err, tta.ErrTimeout, "the last attempt timed out, whatever the one before it said: %v", err)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, TypeTimeout, e.Type)
	assert.Equal(t, int32(2), calls.Load())
}

// codeActivity returns a code activity on fake, the starts recorded by
// recordNow counted in starts.
func recordStarts(t *testing.T) *[]Progress {
	t.Helper()
	var mu sync.Mutex
	starts := new([]Progress)
	old := recordNow
	recordNow = func(ctx, actx context.Context, p Progress) error {
		mu.Lock()
		defer mu.Unlock()
		*starts = append(*starts, p)
		return nil
	}
	t.Cleanup(func() { recordNow = old })
	return starts
}

func TestCodeActivityRecordsItsStartBeforeTheCodeRuns(t *testing.T) {
	starts := recordStarts(t)
	fake := ttatest.NewFakeProvider()
	var startsBeforeRun int
	fake.Handle(func(ctx context.Context, r ttatest.Run) (ttatest.Output, error) {
		startsBeforeRun = len(*starts)
		return ttatest.Output{Stdout: "hi\n"}, nil
	})
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	a, err := NewActivity("code", tta.Primitive[tta.CodeInput, tta.CodeOutput](exec))
	require.NoError(t, err)

	s := quietSuite()
	env := s.NewTestWorkflowEnvironment()
	var mu sync.Mutex
	var beats []Progress
	env.SetOnActivityHeartbeatListener(func(info *activityInfo, details encodedValues) {
		var p Progress
		if details.Get(&p) == nil {
			mu.Lock()
			beats = append(beats, p)
			mu.Unlock()
		}
	})
	a.Register(env)
	var out tta.CodeOutput
	env.ExecuteWorkflow(func(ctx workflow.Context) error {
		var err error
		out, err = a.Execute(ctx, tta.CodeInput{Code: `print("hi")`, OnStdout: func(string) {}})
		return err
	})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, "hi\n", out.Stdout)
	require.NoError(t, exec.Close())
	fake.AssertNoLeaks(t)

	require.Len(t, *starts, 1)
	assert.Equal(t, 1, startsBeforeRun, "the start was recorded at the server before the code ran")
	assert.Equal(t, Progress{SandboxIDs: []string{out.SandboxID}, CodeStarted: true}, (*starts)[0])
	mu.Lock()
	defer mu.Unlock()
	// The SDK batches heartbeats and drops one still held back when the
	// activity completes: the start is the server's through recordNow
	// (starts above); the heartbeats the SDK sent name the sandbox.
	require.NotEmpty(t, beats)
	assert.Equal(t, []string{out.SandboxID}, beats[len(beats)-1].SandboxIDs)

	sb := fake.Sandbox(out.SandboxID)
	require.NotNil(t, sb)
	md := sb.Metadata()
	assert.Equal(t, "code", md["tta.temporal.activity_type"])
	assert.Equal(t, "1", md["tta.temporal.attempt"])
	assert.NotEmpty(t, md["tta.temporal.activity"])
	assert.NotEmpty(t, md["tta.workflow"], "the workflow ID labels the sandbox")
}

func TestCodeDoesNotStartWhenItsStartCannotBeRecorded(t *testing.T) {
	old := recordNow
	recordNow = func(ctx, actx context.Context, p Progress) error { return errors.New("server unreachable") }
	t.Cleanup(func() { recordNow = old })
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	defer exec.Close()
	a, err := NewActivity("code", tta.Primitive[tta.CodeInput, tta.CodeOutput](exec), WithRetryPolicy(&temporal.RetryPolicy{MaximumAttempts: 2}))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, tta.CodeInput{Code: "x = 1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not record its start")
	assert.Equal(t, 0, fake.Calls(ttatest.OpRun), "no code ran")
	assert.True(t, tta.CodeNotStarted(err))
}

func TestBadCodeInputIsAPermanentError(t *testing.T) {
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(fake)))
	require.NoError(t, err)
	defer exec.Close()
	a, err := NewActivity("code", tta.Retry[tta.CodeInput, tta.CodeOutput](exec, fastRetry...))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, tta.CodeInput{Code: "x = 1", Timeout: -time.Second})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, TypePermanent, e.Type)
	assert.False(t, e.Retryable)
	assert.Contains(t, err.Error(), "CodeInput.Timeout must be >= 0")
	assert.Equal(t, 0, fake.Calls(ttatest.OpCreate), "bad input creates no sandbox, on no attempt")
}

func TestPanickingPrimitiveIsAPanicErrorNotRetried(t *testing.T) {
	var calls atomic.Int32
	a, err := NewActivity("panics", tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		calls.Add(1)
		panic("boom")
	}))
	require.NoError(t, err)
	_, err = runInWorkflow(t, a, 1)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, TypePanic, e.Type)
	assert.False(t, e.Retryable)
	var pe *tta.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	assert.Contains(t, string(pe.Stack), "TestPanickingPrimitiveIsAPanicErrorNotRetried", "the stack of the panic travels")
	assert.Equal(t, "tta: panic: boom", err.Error())
	assert.Equal(t, int32(1), calls.Load(), "a panic is not retried")
	// TestMain's goleak check fails if the heartbeat loop outlived the panic.
}
