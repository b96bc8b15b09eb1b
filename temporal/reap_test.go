package ttatemporal

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2btest"
)

func TestReapE2BKillsTheSandboxesOfOneWorkflow(t *testing.T) {
	env := e2btest.Start(t)
	ctx := t.Context()
	create := func(md map[string]string) string {
		sb, err := env.Client.Create(ctx, e2b.CreateOptions{Metadata: md})
		require.NoError(t, err)
		return sb.ID()
	}
	lost1 := create(map[string]string{"tta.workflow": "wf-1", "tta.temporal.activity": "5"})
	lost2 := create(map[string]string{"tta.workflow": "wf-1", "tta.temporal.activity": "9"})
	other := create(map[string]string{"tta.workflow": "wf-2"})

	killed, err := ReapE2B(ctx, env.Client, map[string]string{"tta.workflow": "wf-1"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{lost1, lost2}, killed)
	left := env.Server.Sandboxes()
	require.Len(t, left, 1)
	assert.Equal(t, other, left[0].SandboxID)

	_, err = ReapE2B(ctx, env.Client, nil)
	require.ErrorContains(t, err, "no labels to match")
	_, err = ReapE2B(ctx, nil, map[string]string{"a": "b"})
	require.ErrorContains(t, err, "client is nil")
	assert.Panics(t, func() { E2BKiller(nil) })

	kill := E2BKiller(env.Client)
	require.NoError(t, kill(ctx, other))
	assert.Empty(t, env.Server.Sandboxes())
	assert.NoError(t, kill(ctx, other), "a sandbox already gone is not an error")
}
