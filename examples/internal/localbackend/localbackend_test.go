package localbackend

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/e2b"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenLocal(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, "")
	b, err := Open()
	require.NoError(t, err)
	assert.True(t, b.Local())
	assert.Equal(t, "local sandbox server", b.String())
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, b.Client.APIURL())

	// envd only: no interpreter, so no python3 needed.
	sbx, err := b.Client.Create(context.Background(), e2b.CreateOptions{Template: "base", Timeout: time.Minute})
	require.NoError(t, err)
	require.NoError(t, sbx.EnvdHealth(context.Background()))
	require.NoError(t, b.Close())
	assert.Empty(t, b.Server.Sandboxes(), "Close killed the sandbox")
}

func TestOpenE2B(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, "e2b_0123456789abcdef0123456789abcdef01234567")
	b, err := Open()
	require.NoError(t, err)
	assert.False(t, b.Local())
	assert.Nil(t, b.Server)
	assert.Equal(t, "E2B", b.String())
	require.NoError(t, b.Close())
}
