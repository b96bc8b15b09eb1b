package tta_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// A call may run longer than the sandbox timeout: while it runs, its
// sandbox's timeout is set again whenever half of it is left. Once the call
// has returned, nothing extends the sandbox any more, except that a Session
// extends it once more at the end of the call so as to be idle for a whole
// timeout.
func TestKeepAlive_LongRun(t *testing.T) {
	const timeout = 10 * time.Minute
	for _, tc := range []struct {
		name       string
		session    bool
		extensions int           // at 5, 10, 15 and 20 min; the session's at 24
		deadline   time.Duration // after the start
	}{
		{"stateless", false, 4, 30 * time.Minute},
		{"session", true, 5, 34 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ttatest.NewFakeProvider()
				p.Script("train()", ttatest.Output{Delay: 24 * time.Minute, Stdout: "trained\n"})
				exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(timeout))
				var run tta.Primitive[tta.CodeInput, tta.CodeOutput] = exec
				if tc.session {
					run = newSession(t, exec)
				}

				start := time.Now()
				out, err := run.Execute(context.Background(), tta.CodeInput{Code: "train()"})
				require.NoError(t, err, "the run outlived the sandbox timeout")
				assert.Equal(t, "trained\n", out.Stdout)
				sb := p.Sandbox(out.SandboxID)
				assert.Len(t, sb.Timeouts(), tc.extensions)
				assert.Equal(t, start.Add(tc.deadline), sb.Deadline())

				if tc.session {
					time.Sleep(timeout - time.Second)
					_, err := run.Execute(context.Background(), tta.CodeInput{Code: "1"})
					require.NoError(t, err, "idle for less than a timeout after a long call")
					return
				}
				time.Sleep(time.Hour)
				assert.Len(t, sb.Timeouts(), tc.extensions, "no extension after the call")
			})
		})
	}
}

// The keeper of a call whose sandbox has less than half a timeout left when
// the call starts extends it at once: here the keeper of the install that
// prepared the sandbox failed to extend it, and the run starts with 4 min
// left of 10.
func TestKeepAlive_ExtendsAtOnceWhenLittleIsLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, InstallDelay: 6 * time.Minute})
		p.Fail(ttatest.Fault{Op: ttatest.OpSetTimeout, Nth: 1, Err: ttatest.Transient(assert.AnError)})
		p.Script("train()", ttatest.Output{Delay: 9 * time.Minute})
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute), tta.WithPackages("torch"))

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		require.NoError(t, err)
		sb := p.Sandbox(out.SandboxID)
		assert.Equal(t, []time.Duration{10 * time.Minute, 10 * time.Minute}, sb.Timeouts(), "at 6 and 11 min")
		assert.Equal(t, start.Add(21*time.Minute), sb.Deadline())
	})
}

// A long install while the sandbox is prepared is kept alive too.
func TestKeepAlive_LongInstall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, InstallDelay: 12 * time.Minute})
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute), tta.WithPackages("torch"))
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "import torch"})
		require.NoError(t, err, "the install outlived the sandbox timeout")
		assert.Equal(t, []string{"torch"}, out.Installed)
		assert.Len(t, p.Sandbox(out.SandboxID).Timeouts(), 2, "at 5 and 10 min")
	})
}

// A failed extension is tried again an eighth of the timeout later, well
// before the sandbox ends.
func TestKeepAlive_FailedExtensionTriedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Delay: 9 * time.Minute})
		p.Fail(ttatest.Fault{Op: ttatest.OpSetTimeout, Nth: 1, Err: ttatest.Transient(assert.AnError)})
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute))

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		require.NoError(t, err)
		sb := p.Sandbox(out.SandboxID)
		assert.Equal(t, []time.Duration{10 * time.Minute}, sb.Timeouts(), "the second try, after the failed first")
		assert.Equal(t, start.Add(5*time.Minute+75*time.Second+10*time.Minute), sb.Deadline())
	})
}

// A session extends its sandbox after a long call that failed too, here with
// the code's error returned as an error.
func TestKeepAlive_SessionIdleAfterAFailedLongCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Delay: 6 * time.Minute, Error: &tta.ExecutionError{Name: "ValueError", Value: "diverged"}})
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(8*time.Minute), tta.WithCodeErrorsAsErrors())
		s := newSession(t, exec)

		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		require.ErrorIs(t, err, tta.ErrCodeFailed)
		time.Sleep(8*time.Minute - time.Second)
		_, err = s.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err, "idle for less than a timeout after the failed call")
	})
}
