package ttatest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

var ctx = context.Background()

func create(t *testing.T, p *ttatest.FakeProvider, tpl tta.Template) *ttatest.FakeSandbox {
	t.Helper()
	sb, err := p.Create(ctx, tta.CreateRequest{Template: tpl, Timeout: time.Hour})
	require.NoError(t, err)
	return sb.(*ttatest.FakeSandbox)
}

func TestFake_TemplatesByIDOrName(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{ID: "3xmp0rmfztawhlpysu4v", Name: "tta-ml-minimal"})
	for _, tpl := range []tta.Template{
		{}, {Name: tta.DefaultTemplateName}, {ID: ttatest.DefaultTemplateID},
		{ID: "3xmp0rmfztawhlpysu4v"}, {Name: "tta-ml-minimal"},
	} {
		sb := create(t, p, tpl)
		assert.NoError(t, sb.Probe(ctx), tpl.String())
		require.NoError(t, sb.Kill(ctx))
	}
	_, err := p.Create(ctx, tta.CreateRequest{Template: tta.Template{Name: "missing"}})
	require.ErrorIs(t, err, ttatest.ErrTemplateNotFound)
	assert.False(t, tta.IsTransient(err))
	assert.Len(t, p.Sandboxes(), 5)
	p.AssertNoLeaks(t)
}

func TestFake_AddTemplateReplaces(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, NeverReady: true})
	sb := create(t, p, tta.Template{})
	assert.ErrorIs(t, sb.Probe(ctx), ttatest.ErrPortNotOpen)
	require.NoError(t, sb.Kill(ctx))
	assert.PanicsWithValue(t, "ttatest: AddTemplate: the template needs an ID or a Name", func() { p.AddTemplate(ttatest.FakeTemplate{}) })
}

func TestFake_Readiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(
			ttatest.FakeTemplate{Name: "slow", CreateDelay: 2 * time.Second, ReadyAfter: 90 * time.Second},
			ttatest.FakeTemplate{Name: "never", NeverReady: true},
		)
		start := time.Now()
		slow := create(t, p, tta.Template{Name: "slow"})
		assert.Equal(t, 2*time.Second, time.Since(start))
		never := create(t, p, tta.Template{Name: "never"})

		for _, sb := range []*ttatest.FakeSandbox{slow, never} {
			err := sb.Probe(ctx)
			require.ErrorIs(t, err, ttatest.ErrPortNotOpen)
			assert.True(t, tta.IsTransient(err))
			_, err = sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "python"})
			assert.ErrorIs(t, err, ttatest.ErrPortNotOpen)
			_, err = sb.CreateContext(ctx, "python")
			assert.ErrorIs(t, err, ttatest.ErrPortNotOpen)
			_, err = sb.RunCommand(ctx, "ls")
			assert.NoError(t, err, "envd answers before the interpreter")
		}
		time.Sleep(90 * time.Second)
		assert.NoError(t, slow.Probe(ctx))
		assert.ErrorIs(t, never.Probe(ctx), ttatest.ErrPortNotOpen)
		assert.Len(t, slow.Probes(), 2)
		require.NoError(t, slow.Kill(ctx))
		require.NoError(t, never.Kill(ctx))
	})
}

func TestFake_ScriptsAndHandler(t *testing.T) {
	p := ttatest.NewFakeProvider()
	sb := create(t, p, tta.Template{})
	defer sb.Kill(ctx) //nolint:errcheck

	run := func(code string) tta.Execution {
		t.Helper()
		ex, err := sb.RunCode(ctx, tta.RunRequest{Code: code, Language: "python"})
		require.NoError(t, err)
		return ex
	}
	assert.Equal(t, "a\nb\n", run("print(\"a\")\nx = 1\nprint('b')").Stdout, "default: print literals")
	assert.Empty(t, run("print(x)").Stdout)

	p.Script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
	ex := run("1/0")
	require.NotNil(t, ex.Error)
	assert.Equal(t, "ZeroDivisionError", ex.Error.Name)
	assert.Contains(t, ex.Error.Traceback, "ZeroDivisionError: division by zero")

	p.Handle(func(ctx context.Context, r ttatest.Run) (ttatest.Output, error) {
		return ttatest.Output{Stdout: fmt.Sprintf("%s #%d\n", r.Code, r.ExecutionCount)}, nil
	})
	assert.Equal(t, "x #4\n", run("x").Stdout)
	assert.NotNil(t, run("1/0").Error, "scripts take precedence over the handler")
	assert.Len(t, sb.Runs(), 5)
}

func TestFake_Faults(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "ml"})
	errBoom := errors.New("boom")
	p.Fail(ttatest.Fault{Op: ttatest.OpCreate, Template: "ml", Nth: 2, Err: errBoom})
	p.Fail(ttatest.Fault{Op: ttatest.OpRun, Nth: 1, Err: ttatest.Transient(ttatest.ErrConnectionRefused)})

	for i, want := range []error{nil, nil, errBoom, nil} {
		tpl := tta.Template{Name: "ml"}
		if i == 0 {
			tpl = tta.Template{} // not "ml": not counted by the fault
		}
		sb, err := p.Create(ctx, tta.CreateRequest{Template: tpl})
		if want != nil {
			assert.ErrorIs(t, err, want, "call %d", i)
			continue
		}
		require.NoError(t, err)
		require.NoError(t, sb.Kill(ctx))
	}
	assert.Equal(t, 4, p.Calls(ttatest.OpCreate))

	sb := create(t, p, tta.Template{})
	_, err := sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "python"})
	assert.ErrorIs(t, err, ttatest.ErrConnectionRefused)
	assert.True(t, tta.IsTransient(err))
	_, err = sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "python"})
	assert.NoError(t, err)
	assert.Len(t, sb.Runs(), 1, "the failed run did not reach the interpreter")

	p.Fail(ttatest.Fault{Op: ttatest.OpKill, Err: errBoom})
	assert.ErrorIs(t, sb.Kill(ctx), errBoom)
	assert.False(t, sb.Killed())
	p.ClearFaults()
	require.NoError(t, sb.Kill(ctx))
	p.AssertNoLeaks(t)
}

func TestFake_ExpiryAndKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		raw, err := p.Create(ctx, tta.CreateRequest{Timeout: time.Minute})
		require.NoError(t, err)
		sb := raw.(*ttatest.FakeSandbox)
		time.Sleep(50 * time.Second)
		require.NoError(t, sb.SetTimeout(ctx, time.Minute))
		time.Sleep(50 * time.Second)
		require.NoError(t, sb.Probe(ctx), "extended")
		time.Sleep(10 * time.Second)
		err = sb.Probe(ctx)
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		assert.False(t, tta.IsTransient(err))
		assert.Equal(t, []*ttatest.FakeSandbox{sb}, p.Leaked(), "expired without a kill")

		require.NoError(t, sb.Kill(ctx), "killing a gone sandbox succeeds")
		require.NoError(t, sb.Kill(ctx))
		assert.True(t, sb.Killed())
		assert.Equal(t, 2, p.Calls(ttatest.OpKill))
		_, err = sb.RunCommand(ctx, "ls")
		assert.ErrorIs(t, err, tta.ErrSandboxGone)
	})
}

func TestFake_RunInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Stdout: "done\n", Delay: time.Hour})
		sb := create(t, p, tta.Template{})
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := sb.RunCode(c, tta.RunRequest{Code: "train()", Language: "python"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, tta.IsTransient(err), "the code had started")
		require.NoError(t, sb.Kill(ctx))
	})
}

func TestFake_PipInstall(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, Packages: []string{"numpy"}})
	p.RejectPackage("nope")
	sb := create(t, p, tta.Template{})
	defer sb.Kill(ctx) //nolint:errcheck
	res, err := sb.RunCommand(ctx, "pip install --quiet 'torch' 'numpy'")
	require.NoError(t, err)
	assert.Zero(t, res.ExitCode)
	assert.Equal(t, []string{"numpy", "torch"}, sb.Installed())
	res, err = sb.RunCommand(ctx, "pip install nope")
	require.NoError(t, err)
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, res.Stderr, "No matching distribution found for nope")
	assert.Len(t, sb.Commands(), 2)
}

func TestFake_Languages(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: tta.DefaultTemplateName, Languages: []string{"python", "javascript"}})
	sb := create(t, p, tta.Template{})
	defer sb.Kill(ctx) //nolint:errcheck
	_, err := sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "javascript"})
	assert.NoError(t, err)
	_, err = sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "r"})
	assert.ErrorIs(t, err, ttatest.ErrUnsupportedLanguage)
	_, err = sb.CreateContext(ctx, "r")
	assert.ErrorIs(t, err, ttatest.ErrUnsupportedLanguage)
	id, err := sb.CreateContext(ctx, "python")
	require.NoError(t, err)
	_, err = sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "python", ContextID: id})
	assert.NoError(t, err)
	_, err = sb.RunCode(ctx, tta.RunRequest{Code: "1", Language: "python", ContextID: "ctx-9"})
	assert.Error(t, err)
}

// spyT records what AssertNoLeaks reports.
type spyT struct {
	testing.TB
	errs []string
}

func (s *spyT) Helper() {}
func (s *spyT) Errorf(format string, args ...any) {
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func TestFake_AssertNoLeaks(t *testing.T) {
	p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "ml"})
	a := create(t, p, tta.Template{})
	b := create(t, p, tta.Template{Name: "ml"})
	require.NoError(t, a.Kill(ctx))
	spy := &spyT{}
	assert.False(t, p.AssertNoLeaks(spy))
	assert.Equal(t, []string{"ttatest: 1 of 2 sandboxes leaked (created, never killed): sbx-2 (template ml)"}, spy.errs)
	require.NoError(t, b.Kill(ctx))
	assert.True(t, p.AssertNoLeaks(t))
}
