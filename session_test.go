package tta_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// newFakeOnly returns a primitive on a fresh fake provider, closed when the
// test ends.
func newFakeOnly(t *testing.T, opts ...tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	return testenv.FakeExec(t, ttatest.NewFakeProvider(), opts...)
}

func newSession(t *testing.T, exec *tta.CodeExecutionPrimitive) *tta.Session {
	t.Helper()
	s, err := exec.NewSession(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestSession_StatePersists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		var _ tta.Primitive[tta.CodeInput, tta.CodeOutput] = s

		for i, code := range []string{"x = 1", "x += 1", "print(x)"} {
			out, err := s.Execute(context.Background(), tta.CodeInput{Code: code})
			require.NoError(t, err)
			assert.Equal(t, i+1, out.ExecutionCount)
			assert.Equal(t, s.SandboxID(), out.SandboxID)
		}
		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "console.log(1)", Language: tta.LanguageJavaScript})
		require.NoError(t, err)

		require.Len(t, p.Sandboxes(), 1, "one sandbox for the whole session")
		runs := p.Sandboxes()[0].Runs()
		require.Len(t, runs, 4)
		assert.Equal(t, "ctx-1", runs[0].ContextID)
		assert.Equal(t, "ctx-1", runs[2].ContextID, "same context across calls")
		assert.Equal(t, "ctx-2", runs[3].ContextID, "a context per language")
		assert.Equal(t, "javascript", runs[3].Language)
		assert.Equal(t, "session sbx-1 on code-interpreter-v1", s.String())
	})
}

func TestSession_ExtendsTimeoutWhileUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute))
		s := newSession(t, exec)
		for range 5 {
			time.Sleep(8 * time.Minute) // each pause is shorter than the timeout; all together longer
			_, err := s.Execute(context.Background(), tta.CodeInput{Code: "1"})
			require.NoError(t, err)
		}
		assert.Len(t, p.Sandboxes()[0].Timeouts(), 5)
		assert.Len(t, p.Sandboxes(), 1)
	})
}

func TestSession_ExpiredIsGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithSandboxTimeout(10*time.Minute))
		s := newSession(t, exec)
		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)

		time.Sleep(11 * time.Minute)
		for range 2 {
			_, err = s.Execute(context.Background(), tta.CodeInput{Code: "print(x)"})
			require.ErrorIs(t, err, tta.ErrSandboxGone)
			assert.False(t, tta.IsTransient(err))
		}
		assert.Len(t, p.Sandboxes(), 1, "never silently starts over")
		assert.Len(t, p.Sandboxes()[0].Runs(), 1)
	})
}

func TestSession_GoneDuringRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Delay: time.Minute})
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		time.AfterFunc(time.Second, func() { p.Sandboxes()[0].Expire() })
		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "train()"})
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Started, "the code ran until the sandbox ended: an interrupted run")
		assert.False(t, tta.IsTransient(err))
		_, err = s.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone, "the next call finds the sandbox gone")
		assert.False(t, tta.IsTransient(err))
		assert.Len(t, p.Sandboxes()[0].Runs(), 1)
		assert.Len(t, p.Sandboxes(), 1, "never silently starts over")
	})
}

func TestSession_TransientErrorKeepsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "x = 1"})
		require.NoError(t, err)

		p.Fail(ttatest.Fault{Op: ttatest.OpRun, Nth: 2, Err: ttatest.Transient(ttatest.ErrConnectionRefused)})
		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](s).Execute(context.Background(), tta.CodeInput{Code: "print(x)"})
		require.NoError(t, err)
		assert.Equal(t, 2, out.ExecutionCount, "same interpreter context after the retry")
		assert.Len(t, p.Sandboxes(), 1)
	})
}

func TestSession_PackagesInstalledOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithPackages("numpy"))
		s := newSession(t, exec)
		out, err := s.Execute(context.Background(), tta.CodeInput{Code: "import pandas", Packages: []string{"numpy", "pandas"}})
		require.NoError(t, err)
		assert.Equal(t, []string{"pandas"}, out.Installed)
		assert.Equal(t, tta.PathRuntimeInstall, out.Path)
		out, err = s.Execute(context.Background(), tta.CodeInput{Code: "import pandas", Packages: []string{"pandas"}})
		require.NoError(t, err)
		assert.Empty(t, out.Installed)
		assert.Equal(t, []string{
			"pip install --quiet --disable-pip-version-check 'numpy'",
			"pip install --quiet --disable-pip-version-check 'pandas'",
		}, p.Sandboxes()[0].Commands())
	})
}

func TestSession_CallsSerialised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("step()", ttatest.Output{Delay: time.Second})
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				_, err := s.Execute(context.Background(), tta.CodeInput{Code: "step()"})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, 4*time.Second, time.Since(start), "one call at a time")
	})
}

func TestSession_CloseInterruptsCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Delay: time.Hour})
		exec := testenv.FakeExec(t, p)
		s, err := exec.NewSession(context.Background())
		require.NoError(t, err)
		errc := make(chan error, 1)
		go func() {
			_, err := s.Execute(context.Background(), tta.CodeInput{Code: "train()"})
			errc <- err
		}()
		time.Sleep(time.Second)
		require.NoError(t, s.Close())
		assert.True(t, p.Sandboxes()[0].Killed())
		require.ErrorIs(t, <-errc, tta.ErrClosed)
		_, err = s.Execute(context.Background(), tta.CodeInput{Code: "1"})
		assert.ErrorIs(t, err, tta.ErrClosed)
	})
}

func TestSession_NotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "heavy"}))
		s, err := exec.NewSession(context.Background())
		require.ErrorIs(t, err, tta.ErrTemplateNotReady)
		assert.Nil(t, s)
		assert.True(t, p.Sandboxes()[0].Killed())
	})
}

func TestSession_PanicKillsSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p)
		s := newSession(t, exec)
		func() {
			defer func() {
				pe, ok := recover().(*tta.PanicError)
				require.True(t, ok)
				assert.Equal(t, "callback bug", pe.Value)
				assert.True(t, p.Sandboxes()[0].Killed(), "killed before the panic went on")
			}()
			_, _ = s.Execute(context.Background(), tta.CodeInput{Code: `print("x")`, OnStdout: func(string) { panic("callback bug") }})
		}()
		_, err := s.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		assert.Contains(t, err.Error(), "killed when a call panicked")
	})
}
