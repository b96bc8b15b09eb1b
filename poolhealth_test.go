package tta_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// endTimes returns the end time of every sandbox the server holds, by ID.
func endTimes(srv *e2bserver.Server) map[string]time.Time {
	out := make(map[string]time.Time)
	for _, d := range srv.Sandboxes() {
		out[d.SandboxID] = d.EndAt
	}
	return out
}

// Idle pooled sandboxes are probed without moving their end times, replaced
// before they expire, and replaced when found gone; the server never holds
// more than the pool's size plus its replacements.
func TestPoolHealth_ProbesKeepEndTimesAndReplaceBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{}
		env := e2btest.StartInMemory(t, e2bserver.WithRuntime(rt))
		// Pooled sandboxes live 9 min (8 + an eighth); the pool checks them every minute.
		exec := testenv.ServerExec(t, env, tta.WithWarmPool(2), tta.WithSandboxTimeout(8*time.Minute))
		require.NoError(t, exec.WaitWarm(t.Context()))
		first := endTimes(env.Server)
		require.Len(t, first, 2)
		probes := env.Server.Calls(e2bserver.OpProbe)

		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		assert.GreaterOrEqual(t, env.Server.Calls(e2bserver.OpProbe)-probes, 6, "three checks of two sandboxes")
		assert.Equal(t, first, endTimes(env.Server), "probes moved no end time")

		// At 7 min, two minutes before their end, they are replaced.
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		second := endTimes(env.Server)
		require.Len(t, second, 2)
		for id, end := range first {
			assert.NotContains(t, second, id, "retired")
			assert.True(t, time.Now().Before(end), "before it expired")
		}
		rt.mu.Lock()
		assert.LessOrEqual(t, rt.maxLive, 4, "the pool's size plus its replacements")
		assert.Equal(t, 2, rt.live)
		rt.mu.Unlock()

		// One killed elsewhere is replaced at the next check.
		var killed string
		for id := range second {
			killed = id
			break
		}
		_, err := env.Client.Kill(t.Context(), killed)
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		third := endTimes(env.Server)
		assert.Len(t, third, 2)
		assert.NotContains(t, third, killed)

		start := time.Now()
		out, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Contains(t, third, out.SandboxID, "a call takes a pooled sandbox")
		assert.Zero(t, time.Since(start))
	})
}

// A sandbox timeout shorter than eight nanoseconds still gives the pool's
// checks a period (a ticker of zero would panic).
func TestPoolHealth_TinyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(time.Nanosecond))
		time.Sleep(time.Second)
		synctest.Wait()
		_, err := exec.Execute(t.Context(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
	})
}
