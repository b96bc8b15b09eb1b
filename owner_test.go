package tta_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// Every sandbox names its owner, its process and what it was for.
func TestOwnerLabelsEverySandboxWithItsPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithOwner("billing-svc"))
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		s, err := exec.NewSession(t.Context())
		require.NoError(t, err)
		defer s.Close()

		pooled := testenv.FakeExec(t, p, tta.WithWarmPool(1))
		require.NoError(t, pooled.WaitWarm(t.Context()))

		sbs := p.Sandboxes()
		require.Len(t, sbs, 3)
		for i, want := range []struct{ owner, purpose string }{
			{"billing-svc", "execute"}, {"billing-svc", "session"}, {tta.DefaultOwner, "pool"},
		} {
			md := sbs[i].Metadata()
			assert.Equal(t, want.owner, md[e2b.MetadataOwner], "sandbox %d", i)
			assert.Equal(t, want.purpose, md[e2b.MetadataPurpose], "sandbox %d", i)
			assert.Equal(t, e2b.ProcessLabel(), md[e2b.MetadataProcess], "sandbox %d", i)
		}
	})
}

// The labels of ownership win over the caller's metadata, which could
// otherwise hide a sandbox from the reaper or expose it to another owner's.
func TestOwnerLabelsWinOverMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithMetadata(map[string]string{e2b.MetadataOwner: "someone-else"}))
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, tta.DefaultOwner, p.Sandboxes()[0].Metadata()[e2b.MetadataOwner])
	})
}

// A program restarted after a crash kills what its previous run left, and
// neither another owner's sandboxes nor its own current ones.
func TestReapAtStartKillsThePreviousRunsOrphans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		create := func(own e2b.Ownership) string {
			sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{Metadata: own.Metadata(nil)})
			require.NoError(t, err)
			return sbx.ID()
		}
		orphan := create(e2b.Ownership{Owner: "svc", Process: "2026-12-06T23:00:00Z pid 99", Purpose: "session"})
		others := create(e2b.Ownership{Owner: "svc-other", Process: "2026-12-06T23:00:00Z pid 99"})

		// This process already has a pooled sandbox of the same owner.
		running := testenv.ServerExec(t, env, tta.WithOwner("svc"), tta.WithWarmPool(1))
		require.NoError(t, running.WaitWarm(t.Context()))
		require.Len(t, env.Server.Sandboxes(), 3)

		var got *e2b.ReapReport
		var gotErr error
		calls := 0
		exec := testenv.ServerExec(t, env, tta.WithOwner("svc"), tta.WithReapAtStart(func(r *e2b.ReapReport, err error) {
			got, gotErr = r, err
			calls++
		}))
		require.Equal(t, 1, calls)
		require.NoError(t, gotErr)
		assert.Equal(t, []string{orphan}, got.Killed)

		var live []string
		for _, d := range env.Server.Sandboxes() {
			live = append(live, d.SandboxID)
			assert.NotEqual(t, orphan, d.SandboxID)
		}
		assert.Contains(t, live, others)
		assert.Len(t, live, 2, "the other owner's and this process's pooled sandbox")

		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)

		// The leak checks that follow want an empty server.
		require.NoError(t, running.Close())
		_, err = env.Client.Kill(t.Context(), others)
		require.NoError(t, err)
	})
}

// A failed reap is reported and does not keep the primitive from starting.
func TestReapAtStartReportsAFailedList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpList, Status: 503, Times: 1})
		var gotErr error
		exec := testenv.ServerExec(t, env, tta.WithReapAtStart(func(_ *e2b.ReapReport, err error) { gotErr = err }))
		var apiErr *e2b.APIError
		require.ErrorAs(t, gotErr, &apiErr)
		assert.Equal(t, 503, apiErr.StatusCode)
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
	})
}

func TestOwnerMisusePanics(t *testing.T) {
	assert.PanicsWithValue(t, `tta: WithOwner: owner ID is empty; omit the option for "tta"`, func() { tta.WithOwner("") })
	assert.PanicsWithValue(t,
		"tta: NewCodeExecution: WithReapAtStart needs sandboxes on E2B (E2B_API_KEY, WithE2BClient or NewE2BProvider); the provider *ttatest.FakeProvider cannot list sandboxes",
		func() {
			_, _ = tta.NewCodeExecution(tta.WithProvider(ttatest.NewFakeProvider()), tta.WithReapAtStart(nil))
		})
}

// WithReapAtStart reaches the E2B provider behind WithCreateLimit.
func TestReapAtStartThroughTheCreateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{}))
		sbx, err := env.Client.Create(t.Context(), e2b.CreateOptions{Metadata: e2b.Ownership{Owner: "svc", Process: "old pid 1"}.Metadata(nil)})
		require.NoError(t, err)
		var killed []string
		testenv.ServerExec(t, env, tta.WithOwner("svc"), tta.WithCreateLimit(tta.HobbyPlan),
			tta.WithReapAtStart(func(r *e2b.ReapReport, err error) {
				require.NoError(t, err)
				killed = r.Killed
			}))
		assert.Equal(t, []string{sbx.ID()}, killed)
		assert.Empty(t, env.Server.Sandboxes())
	})
}
