package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRuntimeInstallFallback(t *testing.T) {
	if testenv.OnE2B() {
		t.Skip("on E2B, run the example itself: go run ./examples/runtime-install -template NAME -package PKG")
	}
	testenv.RequireLocalTools(t, "python3", "pip")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w, "tta-ml-minimal", "") })
	assert.Regexp(t, `custom template skipped: tta: template tta-ml-minimal not ready: code interpreter port 49999 not open after .* \(init window 2s\)`, got)
	assert.Contains(t, got, "  errors.Is(err, tta.ErrTemplateNotReady): true\n")
	assert.Contains(t, got, "path: runtime-install on code-interpreter-v1, installed [ttademo]\n")
	assert.Contains(t, got, "stdout: ttademo 1.0.0\n")
}

func TestDemoWheel(t *testing.T) {
	whl, err := demoWheel()
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(whl), int64(len(whl)))
	require.NoError(t, err)
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		files[f.Name] = string(data)
	}
	assert.Contains(t, files["ttademo/__init__.py"], "__version__ = \"1.0.0\"\n")
	assert.Contains(t, files["ttademo-1.0.0.dist-info/METADATA"], "Name: ttademo\nVersion: 1.0.0\n")
	assert.Contains(t, files["ttademo-1.0.0.dist-info/WHEEL"], "Tag: py3-none-any\n")
	assert.Contains(t, files["ttademo-1.0.0.dist-info/RECORD"], "ttademo/__init__.py,sha256=")
	assert.Contains(t, files["ttademo-1.0.0.dist-info/RECORD"], "ttademo-1.0.0.dist-info/RECORD,,\n")
}
