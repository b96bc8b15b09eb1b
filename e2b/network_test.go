package e2b_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// lastSpecRuntime keeps the spec of the last sandbox started.
type lastSpecRuntime struct {
	e2bserver.ScriptedRuntime
	last chan e2bserver.SandboxSpec
}

func (rt *lastSpecRuntime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	rt.last <- spec
	return rt.ScriptedRuntime.Start(ctx, spec)
}

// Egress rules travel as E2B's API takes them; the server checks their form.
func TestCreateSendsEgressRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &lastSpecRuntime{last: make(chan e2bserver.SandboxSpec, 1)}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		no := false
		_, err := env.Client.Create(t.Context(), e2b.CreateOptions{
			AllowInternetAccess: &no,
			AllowOut:            []string{"pypi.org"},
			DenyOut:             []string{"10.0.0.0/8"},
		})
		require.NoError(t, err)
		spec := <-rt.last
		assert.Equal(t, []string{"pypi.org"}, spec.AllowOut)
		assert.Equal(t, []string{"10.0.0.0/8"}, spec.DenyOut)
		require.NotNil(t, spec.AllowInternetAccess)
		assert.False(t, *spec.AllowInternetAccess)

		_, err = env.Client.Create(t.Context(), e2b.CreateOptions{})
		require.NoError(t, err)
		spec = <-rt.last
		assert.Nil(t, spec.AllowOut)
		assert.Nil(t, spec.DenyOut)

		_, err = env.Client.Create(t.Context(), e2b.CreateOptions{DenyOut: []string{"example.com"}})
		var apiErr *e2b.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 400, apiErr.StatusCode)
		assert.Contains(t, err.Error(), "domain names are not supported for deny rules")
	})
}
