package localrt

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/e2bserver"
)

func TestInternetAccessFollowsTheRules(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name string
		spec e2bserver.SandboxSpec
		want bool
	}{
		{"default", e2bserver.SandboxSpec{}, true},
		{"no internet", e2bserver.SandboxSpec{AllowInternetAccess: &no}, false},
		{"deny everything", e2bserver.SandboxSpec{DenyOut: []string{"0.0.0.0/0"}}, false},
	} {
		got, err := internetAccess(tc.spec)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// Rules that allow some destinations and not others cannot be enforced by a
// sandbox that has internet access or none: the create is refused, and
// leaves nothing behind.
func TestStartRefusesSelectiveEgress(t *testing.T) {
	rt := newTestRuntime(t)
	for _, spec := range []e2bserver.SandboxSpec{
		{SandboxID: "allow-some", AllowOut: []string{"pypi.org"}},
		{SandboxID: "deny-some", DenyOut: []string{"10.0.0.0/8"}},
	} {
		spec.Template = e2bserver.DefaultTemplates()[0]
		_, err := rt.Start(t.Context(), spec)
		require.Error(t, err, spec.SandboxID)
		assert.Contains(t, err.Error(), "cannot enforce egress rules that allow some destinations and not others")
	}
	entries, err := os.ReadDir(rt.root)
	if err == nil {
		assert.Empty(t, entries, "no sandbox directory left")
	}
}
