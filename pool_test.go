package tta_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/ttatest"
)

// slowDefault is a default template that takes 2 s to create and 3 s more to
// open its interpreter port.
var slowDefault = ttatest.FakeTemplate{Name: tta.DefaultTemplateName, CreateDelay: 2 * time.Second, ReadyAfter: 3 * time.Second}

func TestPool_WarmCallDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(slowDefault)
		exec := fakeExec(t, p, tta.WithWarmPool(2), tta.WithPackages("numpy"))
		time.Sleep(time.Minute) // the pool fills in the background
		require.Len(t, p.Sandboxes(), 2)

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("warm")`})
		require.NoError(t, err)
		assert.Zero(t, time.Since(start), "no create, readiness or install on the call's path")
		assert.Zero(t, out.Startup)
		assert.Empty(t, out.Installed, "installed ahead of demand")
		assert.Equal(t, []string{"numpy"}, p.Sandbox(out.SandboxID).Installed())
		assert.True(t, p.Sandbox(out.SandboxID).Killed(), "used once, then killed")

		time.Sleep(10 * time.Second)
		assert.Len(t, p.Sandboxes(), 3, "refilled in the background")
		assert.Len(t, p.Leaked(), 2, "the pool holds two sandboxes again")

	})
}

func TestPool_ColdWhenEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(slowDefault)
		exec := fakeExec(t, p, tta.WithWarmPool(1))
		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, 5500*time.Millisecond, time.Since(start), "created on demand: 2 s create, then probes until 5.5 s")
		assert.True(t, p.Sandbox(out.SandboxID).Killed())
		assert.Len(t, p.Sandboxes(), 2, "the pool's sandbox was not ready yet: a second one was created")
	})
}

func TestPool_NeverReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := fakeExec(t, p, tta.WithWarmPool(1))
		seen := map[string]bool{}
		for range 5 {
			synctest.Wait()
			out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
			require.NoError(t, err)
			assert.False(t, seen[out.SandboxID])
			seen[out.SandboxID] = true
			assert.Equal(t, 1, out.ExecutionCount)
		}
	})
}

// A template that cannot start costs one sandbox per pool slot and call, not
// a loop of them.
func TestPool_FailedFillDoesNotLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
		exec := fakeExec(t, p, tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithWarmPool(2), tta.WithInitWindow(10*time.Second))
		time.Sleep(10 * time.Minute)
		assert.Len(t, p.Sandboxes(), 2)
		assert.Empty(t, p.Leaked())

		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrTemplateNotReady)
		synctest.Wait()
		time.Sleep(time.Minute)
		assert.Len(t, p.Sandboxes(), 5, "the call's own sandbox and one refill per slot")
	})
}

func TestPool_StaleSandboxExtended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := fakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(4*time.Minute))
		time.Sleep(3 * time.Minute)
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, "sbx-1", out.SandboxID)
		assert.Equal(t, []time.Duration{4 * time.Minute}, p.Sandbox("sbx-1").Timeouts())
	})
}

func TestPool_ExpiredSandboxReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := fakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(4*time.Minute))
		time.Sleep(5 * time.Minute)
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, "sbx-2", out.SandboxID, "the expired pooled sandbox was skipped")
		assert.True(t, p.Sandbox("sbx-1").Killed())
	})
}
