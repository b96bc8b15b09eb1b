package e2b_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// Resume brings a paused sandbox back for the timeout asked, and the handle
// goes on working; on a running sandbox it only extends it.
func TestSandboxResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{Timeout: time.Minute})
		require.NoError(t, err)
		require.NoError(t, sbx.Pause(t.Context()))
		time.Sleep(time.Hour)
		info, err := sbx.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, e2b.StatePaused, info.State, "a paused sandbox does not expire")

		require.NoError(t, sbx.Resume(t.Context(), 2*time.Minute))
		info, err = sbx.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, e2b.StateRunning, info.State)
		assert.True(t, time.Now().Add(2*time.Minute).Equal(info.EndAt))
		_, err = sbx.RunCode(t.Context(), "1", e2b.RunCodeOptions{})
		require.NoError(t, err, "the handle still reaches it")

		require.NoError(t, sbx.Resume(t.Context(), 5*time.Minute), "running: extended")
		info, err = sbx.Info(t.Context())
		require.NoError(t, err)
		assert.True(t, time.Now().Add(5*time.Minute).Equal(info.EndAt))
	})
}
