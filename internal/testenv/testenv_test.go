package testenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestProcessExited(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	assert.False(t, testenv.ProcessExited(t, pid, 10*time.Millisecond), "still running")
	require.NoError(t, cmd.Process.Kill())
	assert.True(t, testenv.ProcessExited(t, pid, 5*time.Second), "exits once killed")
	_ = cmd.Wait()
	assert.True(t, testenv.ProcessExited(t, pid, 0), "gone")
}

// spyT records what a check reports.
type spyT struct {
	testing.TB
	errors int
}

func (s *spyT) Errorf(string, ...any) { s.errors++ }
func (s *spyT) Helper()               {}

func TestAssertNoSandboxDirs(t *testing.T) {
	root := t.TempDir()
	testenv.AssertNoSandboxDirs(t, filepath.Join(root, "missing"))
	testenv.AssertNoSandboxDirs(t, root)

	require.NoError(t, os.Mkdir(filepath.Join(root, "sbx-1"), 0o700))
	spy := &spyT{TB: t}
	testenv.AssertNoSandboxDirs(spy, root)
	assert.Equal(t, 1, spy.errors, "a directory left behind is reported")
}
