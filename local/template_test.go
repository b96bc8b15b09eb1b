package local_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/local"
)

func TestParseTemplates(t *testing.T) {
	ts, err := local.ParseTemplates([]byte(`{"templates": [{"name": "tta-ml-minimal", "setup": ["sleep 90"], "env": {"HF_HOME": "/tmp/hf"}}]}`))
	require.NoError(t, err)
	assert.Equal(t, []local.Template{{Name: "tta-ml-minimal", Setup: []string{"sleep 90"}, EnvVars: map[string]string{"HF_HOME": "/tmp/hf"}}}, ts)

	_, err = local.ParseTemplates([]byte(`{"templates": [{"setup": ["true"]}]}`))
	assert.ErrorContains(t, err, "neither name nor id")
}
