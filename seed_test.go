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

// The ways E2B sandboxes fail in practice, and what the library promises
// about each, as acceptance tests: each runs against every backend (see
// backends), in fake time.

// mlTemplate is a heavy custom template: created fine, but its code
// interpreter starts late or never (set ReadyAfter or NeverReady).
var mlTemplate = ttatest.FakeTemplate{ID: "3xmp0rmfztawhlpysu4v", Name: "tta-ml-minimal"}

const helloCode = `print("Hello from default template!")`

// newExec returns a primitive on rec, closed when the test ends, when its
// backend must run no sandbox any more.
func newExec(t *testing.T, rec *recorder, opts ...tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	return testenv.NewExec(t, rec.env.live, append([]tta.Option{tta.WithProvider(rec)}, opts...)...)
}

// probeDelays returns the gaps between consecutive probes.
func probeDelays(times []time.Time) []time.Duration {
	var ds []time.Duration
	for i := 1; i < len(times); i++ {
		ds = append(ds, times[i].Sub(times[i-1]))
	}
	return ds
}

// backoffDelays returns the first n gaps of the readiness schedule: 0.5 s
// doubling to at most 5 s.
func backoffDelays(n int) []time.Duration {
	var ds []time.Duration
	d := 500 * time.Millisecond
	for range n {
		ds = append(ds, d)
		d = min(2*d, 5*time.Second)
	}
	return ds
}

// The default template works, in under a second end to end.
func TestSeed_DefaultTemplate(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
		env.script(helloCode, ttatest.Output{Stdout: "Hello from default template!\n"})
		exec := newExec(t, rec)

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
		require.NoError(t, err)
		assert.Less(t, time.Since(start), time.Second)

		assert.Equal(t, "Hello from default template!\n", out.Stdout)
		assert.True(t, out.Success)
		assert.Nil(t, out.Error)
		assert.Equal(t, tta.DefaultTemplateName, out.Template)
		assert.Equal(t, tta.PathTemplate, out.Path)
		assert.Equal(t, 1, out.ExecutionCount)
		require.Len(t, rec.createdIDs(), 1)
		assert.Equal(t, rec.createdIDs()[0], out.SandboxID)
		rec.assertAllKilled(t, env) // killed by Execute, before Close
	})
}

// A template is created by ID or by name (E2B resolves an ID faster).
func TestSeed_TemplateByIDOrName(t *testing.T) {
	for _, tc := range []struct {
		name string
		tpl  tta.Template
		want string
	}{
		{"by ID", tta.Template{ID: mlTemplate.ID}, mlTemplate.ID},
		{"by name", tta.Template{Name: mlTemplate.Name}, mlTemplate.Name},
		{"both", tta.Template{ID: mlTemplate.ID, Name: mlTemplate.Name}, "tta-ml-minimal (3xmp0rmfztawhlpysu4v)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, []ttatest.FakeTemplate{mlTemplate}, func(t *testing.T, env seedEnv, rec *recorder) {
				exec := newExec(t, rec, tta.WithTemplate(tc.tpl))
				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("ok")`})
				require.NoError(t, err)
				assert.Equal(t, "ok\n", out.Stdout)
				assert.Equal(t, tc.want, out.Template)
				assert.Equal(t, tta.CustomInitWindow, exec.Template().Window)
				rec.assertAllKilled(t, env)
			})
		})
	}
}

// A custom template that opens its interpreter port late: within the
// 120 s window of a custom template the primitive waits it out, probing with
// backoff; with a 60 s window it gives up with a clear, terminal error.
func TestSeed_CustomTemplateSlowInterpreter(t *testing.T) {
	slow := mlTemplate
	slow.ReadyAfter = 90 * time.Second
	tpl := tta.Template{Name: mlTemplate.Name}

	t.Run("120 s window", func(t *testing.T) {
		forEachBackend(t, []ttatest.FakeTemplate{slow}, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithTemplate(tpl))
			start := time.Now()
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("torch ready")`})
			require.NoError(t, err)
			assert.Equal(t, "torch ready\n", out.Stdout)

			probes := rec.probeTimes(out.SandboxID)
			require.NotEmpty(t, probes)
			assert.Equal(t, backoffDelays(len(probes)-1), probeDelays(probes), "probes spaced 0.5 s doubling to 5 s")
			last := probes[len(probes)-1]
			assert.GreaterOrEqual(t, last.Sub(start), 90*time.Second, "ready only once the port opened")
			assert.Less(t, last.Sub(start), 95*time.Second, "found ready within one probe interval")
			assert.Equal(t, 92500*time.Millisecond, time.Since(start))
			assert.Equal(t, 92500*time.Millisecond, out.Startup)
			rec.assertAllKilled(t, env)
		})
	})

	t.Run("port opens late in the window", func(t *testing.T) {
		late := mlTemplate
		late.ReadyAfter = 118 * time.Second // after the regular probe at 117.5 s
		forEachBackend(t, []ttatest.FakeTemplate{late}, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithTemplate(tpl))
			start := time.Now()
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("torch ready")`})
			require.NoError(t, err)
			assert.Equal(t, "torch ready\n", out.Stdout)
			assert.Equal(t, 119*time.Second, time.Since(start), "found by the last probe, 1 s before the window closes")
			rec.assertAllKilled(t, env)
		})
	})

	t.Run("60 s window", func(t *testing.T) {
		forEachBackend(t, []ttatest.FakeTemplate{slow}, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithTemplate(tpl), tta.WithInitWindow(60*time.Second))
			start := time.Now()
			_, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("torch ready")`})
			require.ErrorIs(t, err, tta.ErrTemplateNotReady)
			assert.LessOrEqual(t, time.Since(start), 60*time.Second)

			var nr *tta.TemplateNotReadyError
			require.ErrorAs(t, err, &nr)
			require.Len(t, rec.createdIDs(), 1)
			id := rec.createdIDs()[0]
			assert.Equal(t, mlTemplate.Name, nr.Template)
			assert.Equal(t, id, nr.SandboxID)
			assert.Equal(t, tta.InterpreterPort, nr.Port)
			assert.Equal(t, 60*time.Second, nr.Window)
			assert.Equal(t, len(rec.probeTimes(id)), nr.Probes)
			delays := probeDelays(rec.probeTimes(id))
			require.NotEmpty(t, delays)
			assert.Equal(t, backoffDelays(nr.Probes-2), delays[:len(delays)-1], "probes spaced 0.5 s doubling to 5 s")
			assert.Equal(t, 59*time.Second, nr.Waited, "the last probe runs 1 s before the window closes")
			rec.assertAllKilled(t, env)
		})
	})
}

// A custom template that never opens its port: after the 120 s window
// a terminal ErrTemplateNotReady naming template, port, time and probes; the
// sandbox is killed and Retry does not try again.
func TestSeed_CustomTemplateNeverReady(t *testing.T) {
	never := mlTemplate
	never.NeverReady = true
	forEachBackend(t, []ttatest.FakeTemplate{never}, func(t *testing.T, env seedEnv, rec *recorder) {
		exec := newExec(t, rec, tta.WithTemplate(tta.Template{ID: mlTemplate.ID, Name: mlTemplate.Name}))
		flow := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(4))

		start := time.Now()
		_, err := flow.Execute(context.Background(), tta.CodeInput{Code: "import torch"})
		elapsed := time.Since(start)
		require.ErrorIs(t, err, tta.ErrTemplateNotReady)
		assert.Greater(t, elapsed, 115*time.Second)
		assert.LessOrEqual(t, elapsed, 120*time.Second)

		var nr *tta.TemplateNotReadyError
		require.ErrorAs(t, err, &nr)
		assert.False(t, nr.Transient())
		assert.True(t, tta.IsTransient(nr.Last), "the last probe said: port not open, try later")
		t.Log(err)
		assert.Equal(t, tta.CustomInitWindow, nr.Window)
		assert.Positive(t, nr.Probes)
		assert.Contains(t, err.Error(), "tta: template tta-ml-minimal (3xmp0rmfztawhlpysu4v) not ready: code interpreter port 49999 not open after 1m59s and 28 probes (init window 2m0s)")
		assert.Len(t, rec.createdIDs(), 1, "not retried")
		rec.assertAllKilled(t, env)
	})
}

// The recommended path: when the custom template cannot start, fall back to
// the default template plus a runtime pip install.
func TestSeed_RuntimeInstallFallback(t *testing.T) {
	never := mlTemplate
	never.NeverReady = true
	const code = "import torch; print(torch.__version__)"
	forEachBackend(t, []ttatest.FakeTemplate{never}, func(t *testing.T, env seedEnv, rec *recorder) {
		env.script(code, ttatest.Output{Stdout: "2.5.1\n"})
		custom := newExec(t, rec, tta.WithTemplate(tta.Template{Name: mlTemplate.Name}))
		install := newExec(t, rec, tta.WithPackages("torch", "transformers"))
		flow := tta.FallbackIf(tta.CodeNotStarted, custom, install)

		out, err := flow.Execute(context.Background(), tta.CodeInput{Code: code})
		require.NoError(t, err)
		assert.Equal(t, "2.5.1\n", out.Stdout)
		assert.Equal(t, tta.PathRuntimeInstall, out.Path)
		assert.Equal(t, tta.DefaultTemplateName, out.Template)
		assert.Equal(t, "code-interpreter-v1 + pip install torch transformers", install.String())
		assert.Len(t, rec.createdIDs(), 2, "the custom template's sandbox, then the default one")
		rec.assertAllKilled(t, env)
	})
}

// Sandboxes are killed, not merely closed, on every path.
func TestSeed_KillNotClose(t *testing.T) {
	const slowCode = "import time; time.sleep(600)"
	slowOutput := ttatest.Output{Stdout: "done\n", Delay: 10 * time.Minute}
	never := mlTemplate
	never.NeverReady = true

	cases := []struct {
		name string
		opts []tta.Option
		// notReady: the template never starts (a warm pool cannot fill).
		notReady bool
		// run makes the call and checks its outcome; the sandboxes it used
		// must be killed when it returns (with a warm pool: soon after, in
		// the background), before the primitive is closed.
		run func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder)
	}{
		{name: "success", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			require.NoError(t, err)
			assert.True(t, out.Success)
		}},
		{name: "code error", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1/0"})
			require.NoError(t, err, "a code error is a result")
			assert.False(t, out.Success)
			require.NotNil(t, out.Error)
			assert.Equal(t, "ZeroDivisionError", out.Error.Name)
			assert.Equal(t, "division by zero", out.Error.Value)
		}},
		{name: "code error as error", opts: []tta.Option{tta.WithCodeErrorsAsErrors()}, run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
			flow := tta.Retry[tta.CodeInput, tta.CodeOutput](exec)
			out, err := flow.Execute(context.Background(), tta.CodeInput{Code: "1/0"})
			require.ErrorIs(t, err, tta.ErrCodeFailed)
			assert.Equal(t, "ZeroDivisionError", out.Error.Name)
			assert.Len(t, rec.ranIDs(), 1, "code errors are not retried")
		}},
		{name: "infrastructure error", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.failRuns(1)
			_, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			var se *tta.SandboxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "run", se.Op)
			assert.False(t, se.Started)
			assert.True(t, tta.IsTransient(err), "retryable: the code did not start")
		}},
		{name: "infrastructure error retried", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.failRuns(1)
			flow := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(3))
			out, err := flow.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			require.NoError(t, err)
			assert.Equal(t, "Hello from default template!\n", out.Stdout)
			assert.Len(t, rec.ranIDs(), 2, "a fresh sandbox for the second attempt")
		}},
		{name: "init window closes", notReady: true, opts: []tta.Option{tta.WithTemplate(tta.Template{Name: never.Name}), tta.WithInitWindow(10 * time.Second)},
			run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
				_, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
				require.ErrorIs(t, err, tta.ErrTemplateNotReady)
			}},
		{name: "code timeout", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script(slowCode, slowOutput)
			start := time.Now()
			_, err := exec.Execute(context.Background(), tta.CodeInput{Code: slowCode, Timeout: 2 * time.Second})
			require.ErrorIs(t, err, tta.ErrCodeTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.False(t, tta.IsTransient(err), "never re-run: the code had started")
			assert.Equal(t, 2*time.Second, time.Since(start))
		}},
		{name: "Timeout decorator", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script(slowCode, slowOutput)
			flow := tta.Retry(tta.Timeout[tta.CodeInput, tta.CodeOutput](exec, 3*time.Second))
			_, err := flow.Execute(context.Background(), tta.CodeInput{Code: slowCode})
			require.ErrorIs(t, err, tta.ErrTimeout)
			assert.Len(t, rec.ranIDs(), 1, "code that started is not run again")
		}},
		{name: "caller cancellation", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script(slowCode, slowOutput)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			_, err := exec.Execute(ctx, tta.CodeInput{Code: slowCode})
			require.ErrorIs(t, err, context.Canceled)
		}},
		{name: "panic in callback", run: func(t *testing.T, exec *tta.CodeExecutionPrimitive, env seedEnv, rec *recorder) {
			env.script(helloCode, ttatest.Output{Stdout: "Hello from default template!\n"})
			defer func() {
				v := recover()
				pe, ok := v.(*tta.PanicError)
				require.True(t, ok, "re-panics with a *PanicError, got %#v", v)
				assert.Equal(t, "callback bug", pe.Value)
				assert.Contains(t, string(pe.Stack), "seed_test.go", "the callback's stack")
				rec.assertRanKilled(t, env) // killed before the panic reached us, pool or not
			}()
			_, _ = exec.Execute(context.Background(), tta.CodeInput{Code: helloCode, OnStdout: func(string) { panic("callback bug") }})
			t.Error("Execute returned instead of panicking")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, []ttatest.FakeTemplate{never}, func(t *testing.T, env seedEnv, rec *recorder) {
				env.script(helloCode, ttatest.Output{Stdout: "Hello from default template!\n"})
				exec := newExec(t, rec, tc.opts...)
				tc.run(t, exec, env, rec)
				rec.assertAllKilled(t, env) // killed by the call, before Close
				require.NoError(t, exec.Close())
			})
		})
	}

	// With a warm pool the call's sandbox is killed in the background: soon
	// after the call returns, and Close waits for the kill. The pool's idle
	// sandboxes live until Close.
	t.Run("warm pool", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				forEachBackend(t, []ttatest.FakeTemplate{never}, func(t *testing.T, env seedEnv, rec *recorder) {
					env.script(helloCode, ttatest.Output{Stdout: "Hello from default template!\n"})
					exec := newExec(t, rec, append([]tta.Option{tta.WithWarmPool(1)}, tc.opts...)...)
					err := exec.WaitWarm(context.Background())
					if tc.notReady {
						require.ErrorIs(t, err, tta.ErrTemplateNotReady)
					} else {
						require.NoError(t, err)
					}
					tc.run(t, exec, env, rec)
					synctest.Wait()
					if tc.notReady {
						rec.assertAllKilled(t, env) // no sandbox started: all killed by now
					} else {
						rec.assertRanKilled(t, env) // killed in the background, before Close
					}
					require.NoError(t, exec.Close())
					rec.assertAllKilled(t, env) // the pool's too
				})
			})
		}
	})

	t.Run("Close interrupts a call", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			env.script(slowCode, slowOutput)
			exec := newExec(t, rec)
			errc := make(chan error, 1)
			go func() {
				_, err := exec.Execute(context.Background(), tta.CodeInput{Code: slowCode})
				errc <- err
			}()
			time.Sleep(time.Second)
			require.NoError(t, exec.Close())
			rec.assertAllKilled(t, env) // Close waited for the kill
			err := <-errc
			require.ErrorIs(t, err, tta.ErrClosed)
			assert.False(t, tta.IsTransient(err))
			_, err = exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			assert.ErrorIs(t, err, tta.ErrClosed)
		})
	})

	t.Run("warm pool: Close waits for a kill in flight", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithWarmPool(1))
			require.NoError(t, exec.WaitWarm(context.Background()))
			rec.slowKills(5 * time.Second)
			start := time.Now()
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			require.NoError(t, err)
			assert.Equal(t, "Hello from default template!\n", out.Stdout)
			assert.Zero(t, time.Since(start), "the call did not wait for its sandbox's kill")
			synctest.Wait()
			assert.Contains(t, env.live(), out.SandboxID, "the kill is still in flight")

			require.NoError(t, exec.Close())
			assert.Equal(t, 10*time.Second, time.Since(start), "Close waited for it (5 s), then killed the pool's sandbox (5 s)")
			rec.assertAllKilled(t, env)
		})
	})

	t.Run("warm pool: Close retries a failed kill", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithWarmPool(1))
			require.NoError(t, exec.WaitWarm(context.Background()))
			env.failKills(3) // every attempt of the background kill
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: helloCode})
			require.NoError(t, err)
			synctest.Wait()
			assert.Contains(t, env.live(), out.SandboxID, "the background kill failed")

			require.NoError(t, exec.Close(), "Close killed it on its own attempt")
			rec.assertAllKilled(t, env)
		})
	})

	t.Run("Close drains the warm pool", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec, tta.WithWarmPool(2))
			synctest.Wait()
			assert.Len(t, rec.createdIDs(), 2)
			require.NoError(t, exec.Close())
			rec.assertAllKilled(t, env)
		})
	})

	t.Run("Close kills open sessions", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec)
			s, err := exec.NewSession(context.Background())
			require.NoError(t, err)
			_, err = s.Execute(context.Background(), tta.CodeInput{Code: "x = 1"})
			require.NoError(t, err)
			require.NoError(t, exec.Close())
			rec.assertAllKilled(t, env)
			_, err = s.Execute(context.Background(), tta.CodeInput{Code: "x"})
			assert.ErrorIs(t, err, tta.ErrClosed)
		})
	})

	t.Run("Session.Close", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, env seedEnv, rec *recorder) {
			exec := newExec(t, rec)
			s, err := exec.NewSession(context.Background())
			require.NoError(t, err)
			require.NoError(t, s.Close())
			rec.assertAllKilled(t, env)
			require.NoError(t, s.Close(), "idempotent")
		})
	})
}
