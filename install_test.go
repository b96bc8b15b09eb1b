package tta_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

func TestInstall_Command(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithPackages("torch", "numpy==2.1.0", "transformers[torch]>=4.40"))
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1", Packages: []string{"torch", "pandas", "pandas"}})
		require.NoError(t, err)
		assert.Equal(t, tta.PathRuntimeInstall, out.Path)
		assert.Equal(t, []string{"torch", "numpy==2.1.0", "transformers[torch]>=4.40", "pandas"}, out.Installed,
			"torch installed once, with the sandbox")
		assert.Equal(t, []string{
			"pip install --quiet --disable-pip-version-check 'torch' 'numpy==2.1.0' 'transformers[torch]>=4.40'",
			"pip install --quiet --disable-pip-version-check 'pandas'",
		}, p.Sandboxes()[0].Commands())
	})
}

func TestInstall_Failure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.RejectPackage("torchh")
		exec := testenv.FakeExec(t, p, tta.WithPackages("torchh"))
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "import torch"})
		var ie *tta.InstallError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, 1, ie.ExitCode)
		assert.Equal(t, []string{"torchh"}, ie.Packages)
		assert.Equal(t, "tta: pip install torchh in sandbox sbx-1 exited with 1: ERROR: No matching distribution found for torchh", err.Error())
		assert.Len(t, p.Sandboxes(), 1, "not retried")
		assert.Empty(t, p.Sandboxes()[0].Runs(), "the code did not run")
	})
}

// A pip install whose command could not run is an *InstallError too, with
// the cause: retried when transient, not when terminal.
func TestInstall_CommandFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Fail(ttatest.Fault{Op: ttatest.OpCommand, Nth: 1, Err: ttatest.Transient(ttatest.ErrConnectionRefused)})
		exec := testenv.FakeExec(t, p, tta.WithPackages("torch"))
		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: `print("ok")`})
		require.NoError(t, err)
		assert.Equal(t, "ok\n", out.Stdout)
		assert.Len(t, p.Sandboxes(), 2, "retried in a fresh sandbox")
	})
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		errDenied := errors.New("permission denied")
		p.Fail(ttatest.Fault{Op: ttatest.OpCommand, Err: errDenied})
		exec := testenv.FakeExec(t, p, tta.WithPackages("torch"))
		_, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		var ie *tta.InstallError
		require.ErrorAs(t, err, &ie)
		require.ErrorIs(t, err, errDenied)
		assert.Equal(t, []string{"torch"}, ie.Packages)
		assert.Equal(t, "tta: pip install torch in sandbox sbx-1 (template code-interpreter-v1): permission denied", err.Error())
		assert.False(t, tta.IsTransient(err))
		assert.True(t, tta.CodeNotStarted(err))
		assert.Len(t, p.Sandboxes(), 1, "not retried")
	})
}

func TestInstall_PackageNames(t *testing.T) {
	for _, ok := range []string{"torch", "numpy==2.1.0", "transformers>=4.40,<5", "scikit-learn", "ruamel.yaml", "requests[socks]", "pkg~=1.0", "pkg!=2"} {
		assert.NotPanics(t, func() { tta.WithPackages(ok) }, ok)
	}
	for _, bad := range []string{"", "-e", "a b", "a'b", "a\"b", "a;b", "a|b", "$(x)", "a`b", "a\nb", "a>b && c"} {
		assert.Panics(t, func() { tta.WithPackages(bad) }, bad)
	}
}
