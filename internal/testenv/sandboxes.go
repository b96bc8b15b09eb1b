package testenv

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AssertNoSandboxDirs checks that no sandbox directory is left under root,
// the directory a local server puts its sandboxes' directories in. A root
// that does not exist holds none.
func AssertNoSandboxDirs(t testing.TB, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "sandbox directories left under %s", root)
}
