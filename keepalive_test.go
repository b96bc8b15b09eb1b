package tta_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// A call may run longer than the sandbox timeout: while it runs, its
// sandbox's timeout is set again whenever half of it is left. Once the call
// has returned, nothing extends the sandbox any more.
func TestKeepAlive_LongRun(t *testing.T) {
	const timeout = 10 * time.Minute
	for _, tc := range []struct {
		name string
		call func(t *testing.T, exec *tta.CodeExecutionPrimitive) (tta.CodeOutput, error)
	}{
		{"stateless", func(t *testing.T, exec *tta.CodeExecutionPrimitive) (tta.CodeOutput, error) {
			return exec.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		}},
		{"session", func(t *testing.T, exec *tta.CodeExecutionPrimitive) (tta.CodeOutput, error) {
			return newSession(t, exec).Execute(context.Background(), tta.CodeInput{Code: "train()"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ttatest.NewFakeProvider()
				p.Script("train()", ttatest.Output{Delay: 24 * time.Minute, Stdout: "trained\n"})
				exec := fakeExec(t, p, tta.WithSandboxTimeout(timeout))

				start := time.Now()
				out, err := tc.call(t, exec)
				require.NoError(t, err, "the run outlived the sandbox timeout")
				assert.Equal(t, "trained\n", out.Stdout)
				sb := p.Sandbox(out.SandboxID)
				assert.Equal(t, []time.Duration{timeout, timeout, timeout, timeout}, sb.Timeouts(), "at 5, 10, 15 and 20 min")
				assert.Equal(t, start.Add(30*time.Minute), sb.Deadline(), "the last extension, at 20 min, runs to 30 min")

				time.Sleep(time.Hour)
				assert.Len(t, sb.Timeouts(), 4, "no extension after the call")
			})
		})
	}
}

// A failed extension is tried again an eighth of the timeout later, well
// before the sandbox ends.
func TestKeepAlive_FailedExtensionTriedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Delay: 9 * time.Minute})
		p.Fail(ttatest.Fault{Op: ttatest.OpSetTimeout, Call: 1, Err: ttatest.Transient(assert.AnError)})
		exec := fakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute))

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		require.NoError(t, err)
		sb := p.Sandbox(out.SandboxID)
		assert.Equal(t, []time.Duration{10 * time.Minute}, sb.Timeouts(), "the second try, after the failed first")
		assert.Equal(t, start.Add(5*time.Minute+75*time.Second+10*time.Minute), sb.Deadline())
	})
}
