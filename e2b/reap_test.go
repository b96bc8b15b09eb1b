package e2b_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// heldRuntime is a ScriptedRuntime whose Start waits, while hold is set, until
// hold is closed: a create the client can walk away from while the server
// goes on creating. entered is signalled when a held Start begins.
type heldRuntime struct {
	e2bserver.ScriptedRuntime
	hold    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (rt *heldRuntime) Start(ctx context.Context, spec e2bserver.SandboxSpec) (e2bserver.Instance, error) {
	if h := rt.hold.Load(); h != nil {
		rt.entered <- struct{}{}
		<-*h
	}
	return rt.ScriptedRuntime.Start(ctx, spec)
}

// createOwned creates a sandbox labelled with own and returns its ID.
func createOwned(t *testing.T, c *e2b.Client, own e2b.Ownership) string {
	t.Helper()
	sbx, err := c.Create(t.Context(), e2b.CreateOptions{Metadata: own.Metadata(map[string]string{"app": "reap-test"})})
	require.NoError(t, err)
	return sbx.ID()
}

// serverIDs lists the IDs of the sandboxes the server still holds, sorted.
func serverIDs(srv *e2bserver.Server) []string {
	var ids []string
	for _, d := range srv.Sandboxes() {
		ids = append(ids, d.SandboxID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...[]string) []string {
	out := slices.Concat(ids...)
	slices.Sort(out)
	return out
}

// A process that crashes between create and kill leaves sandboxes behind, one
// of them from a create it never heard back from; the reaper finds them by
// their owner, across pages, and kills those and only those.
func TestReapKillsTheOrphansOfACrashedProcessAndNoOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &heldRuntime{entered: make(chan struct{}, 1)}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		crashed := e2b.Ownership{Owner: "svc-a", Process: "2026-12-07T00:00:00Z pid 1", Purpose: "execute"}

		var orphans []string
		for range 4 {
			orphans = append(orphans, createOwned(t, env.Client, crashed))
		}
		// The crash: the create is on its way when the client goes away.
		hold := make(chan struct{})
		rt.hold.Store(&hold)
		ctx, cancel := context.WithCancel(t.Context())
		createErr := make(chan error, 1)
		go func() {
			_, err := env.Client.Create(ctx, e2b.CreateOptions{Metadata: crashed.Metadata(nil)})
			createErr <- err
		}()
		<-rt.entered
		cancel()
		require.ErrorIs(t, <-createErr, context.Canceled)
		rt.hold.Store(nil)
		close(hold)
		synctest.Wait() // the server finishes the create nobody waits for
		require.Len(t, env.Server.Sandboxes(), 5, "the abandoned create made a sandbox")
		for _, d := range env.Server.Sandboxes() {
			if !slices.Contains(orphans, d.SandboxID) {
				orphans = append(orphans, d.SandboxID)
			}
		}

		other := []string{
			createOwned(t, env.Client, e2b.Ownership{Owner: "svc-b"}),
			createOwned(t, env.Client, e2b.Ownership{Owner: "svc-a-2"}),
			createOwned(t, env.Client, e2b.Ownership{}), // no owner
		}

		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc-a", PageSize: 2})
		require.NoError(t, err)
		assert.Equal(t, 3, report.Pages, "5 orphans in pages of 2")
		assert.ElementsMatch(t, orphans, report.Killed)
		assert.Len(t, report.Orphans, 5)
		assert.Empty(t, report.Gone)
		assert.Empty(t, report.Failed)
		assert.Equal(t, sorted(other), serverIDs(env.Server), "only the owner's sandboxes are killed")

		again, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc-a"})
		require.NoError(t, err)
		assert.Empty(t, again.Orphans, "nothing is left to reap")
	})
}

func TestReapDryRunKillsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		id := createOwned(t, env.Client, e2b.Ownership{Owner: "svc"})
		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc", DryRun: true})
		require.NoError(t, err)
		require.Len(t, report.Orphans, 1)
		assert.Equal(t, id, report.Orphans[0].ID)
		assert.Equal(t, "svc", report.Orphans[0].Metadata[e2b.MetadataOwner])
		assert.Empty(t, report.Killed)
		assert.Equal(t, []string{id}, serverIDs(env.Server))
	})
}

// Without an owner the reaper takes every sandbox some owner labelled, and
// never an unlabelled one, which it cannot know to be an orphan.
func TestReapWithoutOwnerSparesUnlabelledSandboxes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		a := createOwned(t, env.Client, e2b.Ownership{Owner: "a"})
		b := createOwned(t, env.Client, e2b.Ownership{Owner: "b"})
		plain := createOwned(t, env.Client, e2b.Ownership{})
		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{})
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{a, b}, report.Killed)
		assert.Equal(t, []string{plain}, serverIDs(env.Server))
	})
}

func TestReapOlderThanSparesYoungSandboxes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		own := e2b.Ownership{Owner: "svc"}
		old := createOwned(t, env.Client, own)
		time.Sleep(2 * time.Minute)
		young := createOwned(t, env.Client, own)
		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc", OlderThan: time.Minute})
		require.NoError(t, err)
		assert.Equal(t, []string{old}, report.Killed)
		assert.Equal(t, []string{young}, serverIDs(env.Server))
	})
}

// A process reaping at start-up spares the sandboxes it made itself.
func TestReapSparesTheGivenProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		previous := createOwned(t, env.Client, e2b.Ownership{Owner: "svc", Process: "earlier pid 7"})
		mine := createOwned(t, env.Client, e2b.Ownership{Owner: "svc"})
		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc", SpareProcess: e2b.ProcessLabel()})
		require.NoError(t, err)
		assert.Equal(t, []string{previous}, report.Killed)
		assert.Equal(t, []string{mine}, serverIDs(env.Server))
	})
}

func TestReapReportsFailedKillsAndKillsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := e2btest.StartInMemory(t)
		own := e2b.Ownership{Owner: "svc"}
		stuck := createOwned(t, env.Client, own)
		free := createOwned(t, env.Client, own)
		env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpKill, SandboxID: stuck, Status: 500})
		report, err := env.Client.Reap(t.Context(), e2b.ReapOptions{Owner: "svc"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "1 of 2 kills failed")
		assert.Equal(t, []string{free}, report.Killed)
		require.Len(t, report.Failed, 1)
		assert.Equal(t, stuck, report.Failed[0].ID)
		var apiErr *e2b.APIError
		assert.True(t, errors.As(report.Failed[0].Err, &apiErr))
	})
}

func TestReapRejectsBadOptions(t *testing.T) {
	c, err := e2b.NewClient(e2b.WithAPIKey("e2b_0123456789abcdef"), e2b.WithAPIURL("http://127.0.0.1:1"))
	require.NoError(t, err)
	for _, tc := range []struct {
		opts e2b.ReapOptions
		want string
	}{
		{e2b.ReapOptions{OlderThan: -time.Second}, "OlderThan must be >= 0"},
		{e2b.ReapOptions{PageSize: 101}, "PageSize must be from 1 to 100"},
		{e2b.ReapOptions{PageSize: -1}, "PageSize must be from 1 to 100"},
	} {
		_, err := c.Reap(t.Context(), tc.opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestOwnershipMetadata(t *testing.T) {
	md := map[string]string{"app": "x", e2b.MetadataOwner: "spoofed"}
	got := e2b.Ownership{Owner: "svc", Purpose: "pool"}.Metadata(md)
	assert.Equal(t, map[string]string{
		"app":               "x",
		e2b.MetadataOwner:   "svc",
		e2b.MetadataProcess: e2b.ProcessLabel(),
		e2b.MetadataPurpose: "pool",
	}, got)
	assert.Equal(t, "spoofed", md[e2b.MetadataOwner], "the input is not modified")
	assert.Equal(t, md, e2b.Ownership{}.Metadata(md), "no owner, no labels")
	assert.Nil(t, e2b.Ownership{}.Metadata(nil))
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT.*Z pid \d+$`, e2b.ProcessLabel())
}
