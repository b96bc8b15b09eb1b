package tta_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

func TestCodeExec_OptionPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
		msg  string
	}{
		{"nil provider", func() { tta.WithProvider(nil) },
			"tta: WithProvider: provider is nil; pass a Provider, or omit the option to use E2B from E2B_API_KEY"},
		{"typed nil provider", func() { tta.WithProvider((*ttatest.FakeProvider)(nil)) },
			"tta: WithProvider: provider is nil; pass a Provider, or omit the option to use E2B from E2B_API_KEY"},
		{"negative template window", func() { tta.WithTemplate(tta.Template{Window: -time.Second}) },
			"tta: WithTemplate: Template.Window must be >= 0, got -1s; use 0 for the default init window"},
		{"zero init window", func() { tta.WithInitWindow(0) },
			"tta: WithInitWindow: window must be > 0, got 0s; omit the option for the template's default"},
		{"negative pool", func() { tta.WithWarmPool(-1) },
			"tta: WithWarmPool: size must be >= 0, got -1; use 0 for no pool"},
		{"zero sandbox timeout", func() { tta.WithSandboxTimeout(0) },
			"tta: WithSandboxTimeout: timeout must be > 0, got 0s"},
		{"negative kill timeout", func() { tta.WithKillTimeout(-time.Second) },
			"tta: WithKillTimeout: timeout must be > 0, got -1s"},
		{"empty package", func() { tta.WithPackages("torch", "") },
			"tta: WithPackages: package name is empty"},
		{"pip option", func() { tta.WithPackages("-r", "requirements.txt") },
			`tta: WithPackages: package "-r" starts with '-': pass package names, not pip options`},
		{"shell metacharacter", func() { tta.WithPackages("torch; rm -rf /") },
			`tta: WithPackages: package "torch; rm -rf /" contains ';'; use a plain pip requirement such as "numpy==2.1.0"`},
		{"nil option", func() { _, _ = tta.NewCodeExecution(nil) },
			"tta: NewCodeExecution: the first option is nil; pass options made by WithProvider, WithTemplate and the like"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.PanicsWithValue(t, tc.msg, tc.f)
		})
	}
}

func TestCodeExec_NoProvider(t *testing.T) {
	t.Setenv("E2B_API_KEY", "")
	exec, err := tta.NewCodeExecution()
	require.ErrorIs(t, err, tta.ErrNoProvider)
	assert.Nil(t, exec)
	assert.Contains(t, err.Error(), "E2B_API_KEY")
	assert.Contains(t, err.Error(), "WithE2BClient or WithProvider")
	assert.NotContains(t, err.Error(), "WithAPIKey", "an option of package e2b, not of tta")
}

func TestCodeExec_Stateless(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p)
		var ids []string
		for range 3 {
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "x = 1"})
			require.NoError(t, err)
			assert.Equal(t, 1, out.ExecutionCount, "clean interpreter state every call")
			ids = append(ids, out.SandboxID)
		}
		assert.Equal(t, []string{"sbx-1", "sbx-2", "sbx-3"}, ids)
		for _, sb := range p.Sandboxes() {
			assert.True(t, sb.Killed(), sb.ID())
		}
	})
}

func TestCodeExec_Languages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", tta.LanguagePython},
		{tta.LanguagePython, "python"},
		{tta.LanguageJavaScript, "javascript"},
		{tta.LanguageTypeScript, "typescript"},
		{tta.LanguageBash, "bash"},
		{tta.LanguageR, "r"},
		{tta.LanguageJava, "java"},
		{"js", "js"}, // passed through as given
	} {
		t.Run(tc.want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ttatest.NewFakeProvider()
				exec := testenv.FakeExec(t, p)
				_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1", Language: tc.in})
				require.NoError(t, err)
				runs := p.Sandboxes()[0].Runs()
				require.Len(t, runs, 1)
				assert.Equal(t, tc.want, runs[0].Language)
			})
		})
	}
}

func TestCodeExec_UnsupportedLanguage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, Languages: []string{"python"}})
		exec := testenv.FakeExec(t, p)
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "System.out.println(1);", Language: tta.LanguageJava})
		require.ErrorIs(t, err, ttatest.ErrUnsupportedLanguage)
		assert.False(t, tta.IsTransient(err))
	})
}

func TestCodeExec_InputPassedThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Handle(func(ctx context.Context, r ttatest.Run) (ttatest.Output, error) {
			return ttatest.Output{
				Stdout:  "out " + r.EnvVars["MODE"] + "\n",
				Stderr:  "warning\n",
				Results: []tta.Result{{IsMain: true, Text: "42", Data: map[string]string{"text/html": "<b>42</b>"}}},
			}, nil
		})
		exec := testenv.FakeExec(t, p, tta.WithMetadata(map[string]string{"team": "ml"}))
		ctx := tta.WithWorkflow(context.Background(), tta.Workflow{ID: "analysis", RunID: "run-7"})
		var stdout, stderr []string
		out, err := exec.Execute(ctx, tta.CodeInput{
			Code:     "compute()",
			Env:      map[string]string{"MODE": "fast"},
			Files:    []tta.File{{Path: "data/in.csv", Data: []byte("a,b\n1,2\n")}},
			Timeout:  time.Minute,
			OnStdout: func(s string) { stdout = append(stdout, s) },
			OnStderr: func(s string) { stderr = append(stderr, s) },
		})
		require.NoError(t, err)
		assert.Equal(t, "out fast\n", out.Stdout)
		assert.Equal(t, "warning\n", out.Stderr)
		assert.Equal(t, []string{"out fast\n"}, stdout)
		assert.Equal(t, []string{"warning\n"}, stderr)
		require.Len(t, out.Results, 1)
		assert.Equal(t, "<b>42</b>", out.Results[0].Data["text/html"])
		assert.True(t, out.Results[0].IsMain)

		sb := p.Sandboxes()[0]
		data, ok := sb.File("data/in.csv")
		require.True(t, ok)
		assert.Equal(t, "a,b\n1,2\n", string(data))
		assert.Equal(t, time.Minute, sb.Runs()[0].Timeout)
		assert.Equal(t, map[string]string{
			"team": "ml", "tta.template": tta.DefaultTemplateName, "tta.workflow": "analysis", "tta.run": "run-7",
			e2b.MetadataOwner: tta.DefaultOwner, e2b.MetadataProcess: e2b.ProcessLabel(), e2b.MetadataPurpose: "execute",
		}, sb.Metadata())
	})
}

func TestCodeExec_InvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   tta.CodeInput
		msg  string
	}{
		{"negative timeout", tta.CodeInput{Code: "1", Timeout: -time.Second}, "tta: CodeInput.Timeout must be >= 0, got -1s; use 0 to bound the run by ctx alone"},
		{"file without path", tta.CodeInput{Code: "1", Files: []tta.File{{Data: []byte("x")}}}, `tta: CodeInput.Files[0] has an empty Path; give the path to write it to in the sandbox, such as "data.csv"`},
		{"bad package", tta.CodeInput{Code: "1", Packages: []string{"--index-url=x"}}, `tta: CodeInput.Packages: package "--index-url=x" starts with '-': pass package names, not pip options`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ttatest.NewFakeProvider()
				exec := testenv.FakeExec(t, p)
				_, err := exec.Execute(context.Background(), tc.in)
				require.EqualError(t, err, tc.msg)
				assert.False(t, tta.IsTransient(err))
				assert.Empty(t, p.Sandboxes(), "bad input creates nothing")
			})
		})
	}
}

// Create failures keep the provider's classification: transient ones are
// retried, terminal ones are not.
func TestCodeExec_CreateErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Fail(ttatest.Fault{Op: ttatest.OpCreate, Nth: 1, Err: ttatest.Transient(errors.New("429 rate limited"))})
		exec := testenv.FakeExec(t, p)
		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: `print("hi")`})
		require.NoError(t, err)
		assert.Equal(t, "hi\n", out.Stdout)
		assert.Equal(t, 2, p.Calls(ttatest.OpCreate))
	})
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "no-such-template"}))
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, ttatest.ErrTemplateNotFound)
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "create", se.Op)
		assert.Equal(t, "no-such-template", se.Template)
		assert.Equal(t, 1, p.Calls(ttatest.OpCreate), "terminal: not retried")
	})
}

// An error after the code may have started is permanent: the code is never
// run twice automatically.
func TestCodeExec_NeverRerunsStartedCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Handle(func(ctx context.Context, r ttatest.Run) (ttatest.Output, error) {
			return ttatest.Output{}, errors.New("stream cut mid-run")
		})
		exec := testenv.FakeExec(t, p)
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, tta.MaxAttempts(5)).Execute(context.Background(), tta.CodeInput{Code: "charge_card()"})
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Started)
		assert.Equal(t, "tta: run in sandbox sbx-1 (template code-interpreter-v1): stream cut mid-run", err.Error())
		assert.Equal(t, 1, p.Calls(ttatest.OpRun))
	})
}

// A terminal probe error (the sandbox is gone) ends the wait at once; the
// call may be retried, in a fresh sandbox.
func TestCodeExec_TerminalProbeStopsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "slow", NeverReady: true})
		p.Fail(ttatest.Fault{Op: ttatest.OpProbe, Nth: 3, Err: fmt.Errorf("probe: %w", tta.ErrSandboxGone)})
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "slow"}))
		start := time.Now()
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		assert.NotErrorIs(t, err, tta.ErrTemplateNotReady)
		assert.True(t, tta.IsTransient(err), "stateless: the next attempt gets a fresh sandbox")
		assert.Equal(t, 1500*time.Millisecond, time.Since(start), "probes at 0, 0.5 and 1.5 s")
	})
}

// The caller's deadline, shorter than the init window, ends the wait with the
// caller's error, not ErrTemplateNotReady.
func TestCodeExec_CallerDeadlineDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "slow", NeverReady: true})
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "slow"}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := exec.Execute(ctx, tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, tta.ErrTemplateNotReady)
		assert.True(t, p.Sandboxes()[0].Killed())
	})
}

func TestCodeExec_KillRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Fail(ttatest.Fault{Op: ttatest.OpKill, Nth: 1, Err: ttatest.Transient(errors.New("503"))})
		exec := testenv.FakeExec(t, p)
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.True(t, p.Sandboxes()[0].Killed())
		assert.Equal(t, 2, p.Calls(ttatest.OpKill))
	})
}

// A sandbox whose kill keeps failing stays tracked: Close tries again and
// reports it.
func TestCodeExec_FailedKillReportedByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Fail(ttatest.Fault{Op: ttatest.OpKill, Err: ttatest.Transient(errors.New("503 service unavailable"))})
		exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithKillTimeout(5*time.Second))
		require.NoError(t, err)
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("ok")`})
		require.NoError(t, err, "the code ran; the failed kill does not make it fail")
		assert.Equal(t, "ok\n", out.Stdout)
		assert.Len(t, p.Leaked(), 1)

		err = exec.Close()
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "kill", se.Op)
		assert.Equal(t, "sbx-1", se.SandboxID)
		assert.Equal(t, err, exec.Close(), "idempotent")

		p.ClearFaults()
		p.Sandboxes()[0].Kill(context.Background()) //nolint:errcheck // clean up the fake
	})
}

func TestCodeExec_Concurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, CreateDelay: 300 * time.Millisecond, ReadyAfter: time.Second})
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(3))
		var wg sync.WaitGroup
		ids := make([]string, 20)
		for i := range ids {
			wg.Go(func() {
				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: fmt.Sprintf("print('%d')", i)})
				assert.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("%d\n", i), out.Stdout)
				ids[i] = out.SandboxID
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, id := range ids {
			assert.False(t, seen[id], "sandbox %s used twice", id)
			seen[id] = true
		}
	})
}

func TestCodeExec_CloseConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(2))
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { assert.NoError(t, exec.Close()) })
		}
		wg.Wait()
		assert.Empty(t, p.Leaked())
	})
}

func TestCodeExec_String(t *testing.T) {
	p := ttatest.NewFakeProvider()
	for _, tc := range []struct {
		opts []tta.Option
		want string
	}{
		{nil, "code-interpreter-v1"},
		{[]tta.Option{tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"})}, "tta-ml-minimal"},
		{[]tta.Option{tta.WithPackages("torch", "numpy==2.1.0")}, "code-interpreter-v1 + pip install torch numpy==2.1.0"},
	} {
		exec, err := tta.NewCodeExecution(append([]tta.Option{tta.WithProvider(p)}, tc.opts...)...)
		require.NoError(t, err)
		assert.Equal(t, tc.want, exec.String())
		require.NoError(t, exec.Close())
	}
}

// CodeNotStarted tells the errors after which the code may have run from the
// others.
func TestCodeNotStarted(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil: the code ran", nil, false},
		{"run broke after the code started", tta.Permanent(&tta.SandboxError{Op: "run", Started: true, Err: errors.New("stream cut")}), false},
		{"the code raised", fmt.Errorf("step 2: %w", &tta.ExecutionError{Name: "ValueError"}), false},
		{"create failed", &tta.SandboxError{Op: "create", Err: errors.New("429")}, true},
		{"run refused before it started", &tta.SandboxError{Op: "run", Err: errors.New("port not open")}, true},
		{"template not ready", &tta.TemplateNotReadyError{Template: "tta-ml-minimal"}, true},
		{"install failed", &tta.InstallError{Packages: []string{"torch"}, ExitCode: 1}, true},
		{"bad input", tta.Permanent(errors.New("tta: CodeInput.Timeout must be >= 0")), true},
		{"joined, one started", errors.Join(&tta.SandboxError{Op: "create"}, &tta.SandboxError{Op: "run", Started: true}), false},
		{"a fallback whose second alternative started", &tta.FallbackError{Total: 2, Errs: []error{
			&tta.TemplateNotReadyError{Template: "a"}, tta.Permanent(&tta.SandboxError{Op: "run", Started: true}),
		}}, false},
		{"a fallback where nothing started", &tta.FallbackError{Total: 2, Errs: []error{
			&tta.TemplateNotReadyError{Template: "a"}, &tta.SandboxError{Op: "create"},
		}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tta.CodeNotStarted(tc.err))
		})
	}
}

// The recommended fallback runs the code in the default template only when it
// did not start in the custom one.
func TestCodeExec_FallbackIfCodeNotStarted(t *testing.T) {
	for _, tc := range []struct {
		name         string
		customRun    func(context.Context, ttatest.Run) (ttatest.Output, error)
		wantFallback bool
	}{
		{"custom template not ready", nil, true},
		{"run cut after the code started", func(context.Context, ttatest.Run) (ttatest.Output, error) {
			return ttatest.Output{}, errors.New("stream cut mid-run")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				customP := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "tta-ml-minimal", NeverReady: tc.customRun == nil})
				if tc.customRun != nil {
					customP.Handle(tc.customRun)
				}
				defaultP := ttatest.NewFakeProvider()
				custom := testenv.FakeExec(t, customP, tta.WithTemplate(tta.Template{Name: "tta-ml-minimal"}))
				install := testenv.FakeExec(t, defaultP, tta.WithPackages("torch"))

				out, err := tta.FallbackIf(tta.CodeNotStarted, custom, install).Execute(context.Background(), tta.CodeInput{Code: "send_email()"})
				assert.Equal(t, tc.wantFallback, err == nil)
				assert.Equal(t, tc.wantFallback, defaultP.Calls(ttatest.OpRun) == 1, "the default template ran the code")
				if !tc.wantFallback {
					var se *tta.SandboxError
					require.ErrorAs(t, err, &se)
					assert.True(t, se.Started)
					assert.Equal(t, "sbx-1", out.SandboxID, "the custom template's output, as it is")
					assert.Equal(t, 0, defaultP.Calls(ttatest.OpCreate), "no second sandbox")
				} else {
					assert.Equal(t, tta.PathRuntimeInstall, out.Path)
				}
			})
		})
	}
}

// portlessProvider creates sandboxes whose interpreter has no port.
type portlessProvider struct{ *ttatest.FakeProvider }

func (p portlessProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := p.FakeProvider.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	return portlessSandbox{sb}, nil
}

type portlessSandbox struct{ tta.Sandbox }

func (portlessSandbox) InterpreterPort() int { return 0 }

// TemplateNotReadyError names the port the sandbox reports, not E2B's
// whatever the provider.
func TestCodeExec_NotReadyNamesTheSandboxPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
		exec := testenv.FakeExec(t, fake, tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithInitWindow(10*time.Second))
		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		var nr *tta.TemplateNotReadyError
		require.ErrorAs(t, err, &nr)
		assert.Equal(t, tta.InterpreterPort, nr.Port)
	})
	synctest.Test(t, func(t *testing.T) {
		fake := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
		exec, err := tta.NewCodeExecution(tta.WithProvider(portlessProvider{fake}),
			tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithInitWindow(10*time.Second))
		require.NoError(t, err)
		_, err = exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		var nr *tta.TemplateNotReadyError
		require.ErrorAs(t, err, &nr)
		assert.Zero(t, nr.Port)
		assert.Contains(t, err.Error(), "tta: template heavy not ready: code interpreter not answering after 9s and 6 probes (init window 10s)")
		require.NoError(t, exec.Close())
		fake.AssertNoLeaks(t)
	})
}

// A Workflow's Metadata labels the sandboxes made for it, over WithMetadata's
// and under the primitive's own labels.
func TestCodeExec_WorkflowMetadataLabelsSandboxes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithMetadata(map[string]string{"team": "ml", "cost-center": "42"}))
		ctx := tta.WithWorkflow(context.Background(), tta.Workflow{
			ID:       "nightly",
			Metadata: map[string]string{"team": "eval", "tta.template": "not this"},
		})
		_, err := exec.Execute(ctx, tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{
			"team": "eval", "cost-center": "42", "tta.template": tta.DefaultTemplateName, "tta.workflow": "nightly",
			e2b.MetadataOwner: tta.DefaultOwner, e2b.MetadataProcess: e2b.ProcessLabel(), e2b.MetadataPurpose: "execute",
		}, p.Sandboxes()[0].Metadata())
	})
}

// With WithCodeErrorsAsErrors, code that raised is never run again, not
// even by a Retry whose RetryIf accepts every error.
func TestCodeExec_CodeErrorNeverRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
		exec := testenv.FakeExec(t, p, tta.WithCodeErrorsAsErrors())
		always := tta.RetryIf(func(error) bool { return true })
		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec, always, tta.MaxAttempts(5)).Execute(context.Background(), tta.CodeInput{Code: "1/0"})
		var ee *tta.ExecutionError
		require.ErrorAs(t, err, &ee)
		assert.Same(t, out.Error, ee)
		assert.ErrorIs(t, err, tta.ErrCodeFailed)
		assert.Equal(t, 1, p.Calls(ttatest.OpRun))
	})
}
