package tta_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
)

// specRuntime is a ScriptedRuntime that records the specs of its sandboxes.
type specRuntime struct {
	e2bserver.ScriptedRuntime
	mu    sync.Mutex
	specs []e2bserver.SandboxSpec
}

func (rt *specRuntime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	rt.mu.Lock()
	rt.specs = append(rt.specs, spec)
	rt.mu.Unlock()
	return rt.ScriptedRuntime.Start(ctx, spec)
}

// The network of WithNetwork reaches the server as E2B's API takes it.
func TestNetwork_ReachesTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &specRuntime{}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		exec := testenv.ServerExec(t, env, tta.WithNetwork(tta.Network{
			NoInternet: true,
			AllowOut:   []string{"pypi.org", "*.pythonhosted.org", "10.1.2.3/32"},
		}))
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)

		plain := testenv.ServerExec(t, env)
		_, err = plain.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)

		rt.mu.Lock()
		defer rt.mu.Unlock()
		require.Len(t, rt.specs, 2)
		got := rt.specs[0]
		require.NotNil(t, got.AllowInternetAccess)
		assert.False(t, *got.AllowInternetAccess)
		assert.Equal(t, []string{"pypi.org", "*.pythonhosted.org", "10.1.2.3/32"}, got.AllowOut)
		assert.Empty(t, got.DenyOut)
		assert.True(t, got.SelectiveEgress())

		assert.Nil(t, rt.specs[1].AllowInternetAccess, "the zero Network asks for nothing")
		assert.Empty(t, rt.specs[1].AllowOut)
		assert.False(t, rt.specs[1].DeniesAll())
	})
}

// A rule the server refuses (a domain in DenyOut) fails the call for good.
func TestNetwork_RefusedRuleIsAPermanentError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		exec := testenv.ServerExec(t, env, tta.WithNetwork(tta.Network{DenyOut: []string{"example.com"}}))
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.ErrorContains(t, err, "domain names are not supported for deny rules")
		assert.False(t, tta.IsTransient(err))
		assert.True(t, tta.CodeNotStarted(err))
	})
}

func TestNetworkMisusePanics(t *testing.T) {
	assert.PanicsWithValue(t, `tta: WithNetwork: egress rule "" is empty or contains whitespace; use a CIDR block, an IP address or (for AllowOut) a domain`,
		func() { tta.WithNetwork(tta.Network{AllowOut: []string{""}}) })
	assert.Panics(t, func() { tta.WithNetwork(tta.Network{DenyOut: []string{"10.0.0.0/8 "}}) })
}
