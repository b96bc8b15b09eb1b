package ttatest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// A paused fake sandbox does not expire and answers nothing until resumed;
// PauseLosesMemory drops its contexts.
func TestFakeSandbox_PauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "forgetful", PauseLosesMemory: true})
		for _, tc := range []struct {
			tpl  tta.Template
			kept bool
		}{{tta.Template{}, true}, {tta.Template{Name: "forgetful"}, false}} {
			sb := create(t, p, tc.tpl)
			id, err := sb.CreateContext(t.Context(), "python")
			require.NoError(t, err)
			require.NoError(t, sb.Pause(t.Context()))
			require.NoError(t, sb.Pause(t.Context()), "pausing twice")
			assert.True(t, sb.Paused())
			_, err = sb.RunCode(t.Context(), tta.RunRequest{Code: "1", Language: "python"})
			require.ErrorContains(t, err, "is paused")
			assert.False(t, tta.IsTransient(err))

			time.Sleep(time.Hour) // far past its timeout
			require.NoError(t, sb.Resume(t.Context(), time.Minute))
			assert.False(t, sb.Paused())
			assert.Equal(t, time.Now().Add(time.Minute), sb.Deadline())
			exists, err := sb.ContextExists(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, tc.kept, exists, tc.tpl.Name)
			_, err = sb.RunCode(t.Context(), tta.RunRequest{Code: "1", Language: "python"})
			require.NoError(t, err)
			require.NoError(t, sb.Kill(t.Context()))
			require.ErrorIs(t, sb.Resume(t.Context(), time.Minute), tta.ErrSandboxGone)
		}
		p.Fail(ttatest.Fault{Op: ttatest.OpPause, Nth: 1, Err: tta.Permanent(assert.AnError)})
		sb := create(t, p, tta.Template{})
		require.ErrorIs(t, sb.Pause(t.Context()), assert.AnError)
		require.NoError(t, sb.Kill(t.Context()))
	})
}
