package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// reapEnv starts a test server, points the E2B_ variables at it, and creates
// one sandbox labelled with each owner ("" for none). It returns the server
// and the IDs by owner.
func reapEnv(t *testing.T, owners ...string) (*e2btest.Env, map[string]string) {
	t.Helper()
	env := e2btest.Start(t)
	t.Setenv(e2b.EnvAPIKey, env.APIKey)
	t.Setenv(e2b.EnvAPIURL, env.URL)
	t.Setenv(e2b.EnvSandboxURL, env.URL)
	t.Setenv(e2b.EnvAccessToken, "")
	ids := make(map[string]string)
	for _, owner := range owners {
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{
			Metadata: e2b.Ownership{Owner: owner, Purpose: "execute"}.Metadata(nil),
		})
		require.NoError(t, err)
		ids[owner] = sbx.ID()
	}
	return env, ids
}

func liveIDs(env *e2btest.Env) []string {
	var ids []string
	for _, d := range env.Server.Sandboxes() {
		ids = append(ids, d.SandboxID)
	}
	return ids
}

func TestReapDryRunThenKillsTheOwnersSandboxes(t *testing.T) {
	env, ids := reapEnv(t, "svc-a", "svc-b", "")

	r := runTTA(t, "", "reap", "--owner", "svc-a", "--dry-run")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "would kill "+ids["svc-a"]+" owner=svc-a purpose=execute")
	assert.Contains(t, r.stdout, "1 orphans found (dry run: none killed)")
	assert.Len(t, liveIDs(env), 3, "a dry run kills nothing")

	r = runTTA(t, "", "reap", "--owner", "svc-a")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "killed "+ids["svc-a"])
	assert.Contains(t, r.stdout, "1 orphans found: 1 killed, 0 already gone, 0 failed")
	assert.ElementsMatch(t, []string{ids["svc-b"], ids[""]}, liveIDs(env))
	assert.NotContains(t, r.stdout+r.stderr, env.APIKey, "the key is never printed")
}

func TestReapOlderThanKeepsYoungSandboxes(t *testing.T) {
	env, _ := reapEnv(t, "svc")
	r := runTTA(t, "", "reap", "--older-than", "1h")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 orphans found")
	assert.Len(t, liveIDs(env), 1)
}

func TestReapFailedKillExitsOne(t *testing.T) {
	env, ids := reapEnv(t, "svc")
	env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpKill, Status: 500})
	r := runTTA(t, "", "reap", "--owner", "svc")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, "failed: ")
	assert.Contains(t, r.stderr, "1 of 1 orphans could not be killed")
	assert.Equal(t, []string{ids["svc"]}, liveIDs(env))
}

func TestReapListFailureExitsTwo(t *testing.T) {
	env, _ := reapEnv(t, "svc")
	env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpList, Status: 503})
	r := runTTA(t, "", "reap")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "listing page 1")
	assert.Empty(t, r.stdout)
	assert.Len(t, liveIDs(env), 1)
}

func TestReapUsageErrors(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, "")
	r := runTTA(t, "", "reap")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "E2B_API_KEY is not set")

	r = runTTA(t, "", "reap", "--older-than", "-1m")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--older-than must be >= 0")

	r = runTTA(t, "", "reap", "svc")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "takes no arguments")

	r = runTTA(t, "", "reap", "--help")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Usage: tta reap")
}

// specSpy records the metadata of the sandboxes a server starts.
type specSpy struct {
	e2bserver.ScriptedRuntime
	metadata chan map[string]string
}

func (s *specSpy) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	s.metadata <- spec.Metadata
	return s.ScriptedRuntime.Start(ctx, spec)
}

// tta doctor's sandboxes carry the owner label too, so that tta reap finds
// those a crashed doctor left.
func TestDoctorSandboxesAreOwned(t *testing.T) {
	spy := &specSpy{metadata: make(chan map[string]string, 1)}
	env := e2btest.Start(t, e2bserver.WithRuntime(spy))
	t.Setenv(e2b.EnvAPIKey, env.APIKey)
	t.Setenv(e2b.EnvAPIURL, env.URL)
	t.Setenv(e2b.EnvSandboxURL, env.URL)
	runTTA(t, "", "doctor", "--timeout", "5s", "code-interpreter-v1")
	md := <-spy.metadata
	assert.Equal(t, "tta", md[e2b.MetadataOwner])
	assert.Equal(t, "doctor", md[e2b.MetadataPurpose])
	assert.Equal(t, e2b.ProcessLabel(), md[e2b.MetadataProcess])
	assert.Empty(t, liveIDs(env), "the doctor killed it")
}
