package tta_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// slowDefault is a default template that takes 2 s to create and 3 s more to
// open its interpreter port.
var slowDefault = ttatest.FakeTemplate{Name: tta.DefaultTemplateName, CreateDelay: 2 * time.Second, ReadyAfter: 3 * time.Second}

func TestPool_WarmCallDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(slowDefault)
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(2), tta.WithPackages("numpy"))
		time.Sleep(time.Minute) // the pool fills in the background
		require.Len(t, p.Sandboxes(), 2)

		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("warm")`})
		require.NoError(t, err)
		assert.Zero(t, time.Since(start), "no create, readiness or install on the call's path")
		assert.Zero(t, out.Startup)
		assert.Empty(t, out.Installed, "installed ahead of demand")
		assert.Equal(t, []string{"numpy"}, p.Sandbox(out.SandboxID).Installed())
		synctest.Wait()
		assert.True(t, p.Sandbox(out.SandboxID).Killed(), "used once, then killed in the background")
		assert.Equal(t, start, p.Sandbox(out.SandboxID).KilledAt())

		time.Sleep(10 * time.Second)
		assert.Len(t, p.Sandboxes(), 3, "refilled in the background")
		assert.Len(t, p.Leaked(), 2, "the pool holds two sandboxes again")

	})
}

func TestPool_ColdWhenEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(slowDefault)
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
		start := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, 5500*time.Millisecond, time.Since(start), "created on demand: 2 s create, then probes until 5.5 s")
		synctest.Wait()
		assert.True(t, p.Sandbox(out.SandboxID).Killed(), "killed in the background")
		assert.Len(t, p.Sandboxes(), 2, "the pool's sandbox was not ready yet: a second one was created")
	})
}

func TestPool_NeverReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
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
		exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithWarmPool(2), tta.WithInitWindow(10*time.Second))
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
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(4*time.Minute))
		time.Sleep(3 * time.Minute)
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, "sbx-1", out.SandboxID)
		assert.Equal(t, []time.Duration{4 * time.Minute}, p.Sandbox("sbx-1").Timeouts())
	})
}

// A pooled sandbox that expired while it waited is killed and skipped. The
// call then creates a sandbox of its own, and the refill it started first
// creates the pool's next one beside it: the two creates run concurrently, in
// no set order, so the test tells the sandboxes apart by what they are for
// (the pool's lives an eighth longer and runs nothing), never by their IDs.
func TestPool_ExpiredSandboxReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 4 * time.Minute
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(timeout))
		time.Sleep(5 * time.Minute)
		now := time.Now()
		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		expired := p.Sandbox("sbx-1")
		assert.True(t, expired.Killed())
		assert.Empty(t, expired.Runs(), "the expired pooled sandbox was skipped")
		assert.Equal(t, 1, p.Calls(ttatest.OpSetTimeout), "after a failed extension")

		synctest.Wait()
		sbs := p.Sandboxes()
		require.Len(t, sbs, 3, "the call's sandbox and one refill")
		require.Contains(t, []string{"sbx-2", "sbx-3"}, out.SandboxID, "a sandbox created after the expired one")
		own, pooled := sbs[1], sbs[2]
		if own.ID() != out.SandboxID {
			own, pooled = pooled, own
		}
		assert.Equal(t, now.Add(timeout), own.Deadline(), "created on demand, for the call")
		assert.Len(t, own.Runs(), 1)
		assert.True(t, own.Killed(), "used once, then killed in the background")
		assert.Equal(t, now.Add(timeout+timeout/8), pooled.Deadline(), "created for the pool")
		assert.Empty(t, pooled.Runs())
		assert.False(t, pooled.Killed())

		start := time.Now()
		out, err = exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, pooled.ID(), out.SandboxID, "the next call takes the refill")
		assert.Zero(t, time.Since(start))
	})
}

// slowKillProvider is a FakeProvider whose kills take delay.
type slowKillProvider struct {
	*ttatest.FakeProvider
	delay time.Duration
}

func (p slowKillProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := p.FakeProvider.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	return slowKillSandbox{Sandbox: sb, delay: p.delay}, nil
}

type slowKillSandbox struct {
	tta.Sandbox
	delay time.Duration
}

func (s slowKillSandbox) Kill(ctx context.Context) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Sandbox.Kill(ctx)
}

// With a pool, Execute returns without waiting for its sandbox's kill; Close
// waits for it. Without a pool, Execute waits.
func TestPool_KillInBackground(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []tta.Option
		// callTime is how long Execute takes, closeTime how long Close then
		// takes.
		callTime, closeTime time.Duration
	}{
		{"no pool", nil, 3 * time.Second, 0},
		{"warm pool", []tta.Option{tta.WithWarmPool(1)}, 0, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := ttatest.NewFakeProvider()
				exec, err := tta.NewCodeExecution(append([]tta.Option{tta.WithProvider(slowKillProvider{fake, 3 * time.Second})}, tc.opts...)...)
				require.NoError(t, err)
				require.NoError(t, exec.WaitWarm(context.Background()))

				start := time.Now()
				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: `print("hi")`})
				require.NoError(t, err)
				assert.Equal(t, "hi\n", out.Stdout)
				assert.Equal(t, tc.callTime, time.Since(start))
				synctest.Wait()
				assert.Equal(t, tc.callTime == 0, !fake.Sandbox(out.SandboxID).Killed(), "killed before Execute returned only without a pool")

				start = time.Now()
				require.NoError(t, exec.Close())
				assert.Equal(t, tc.closeTime, time.Since(start), "Close waits for the kill in flight (3 s), then kills the pool's sandbox (3 s)")
				assert.True(t, fake.Sandbox(out.SandboxID).Killed())
				fake.AssertNoLeaks(t)
			})
		})
	}
}

// A background kill that failed is tried again by Close, which reports it
// when it fails again.
func TestPool_FailedBackgroundKillReportedByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithWarmPool(1), tta.WithKillTimeout(5*time.Second))
		require.NoError(t, err)
		require.NoError(t, exec.WaitWarm(context.Background()))
		p.Fail(ttatest.Fault{Op: ttatest.OpKill, Err: ttatest.Transient(errors.New("503 service unavailable"))})

		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err, "the code ran; the failed kill does not make it fail")
		time.Sleep(5 * time.Second)
		assert.Equal(t, 3, p.Calls(ttatest.OpKill), "the background kill tried 3 times")

		err = exec.Close()
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "kill", se.Op)
		assert.Contains(t, err.Error(), out.SandboxID)
		assert.Equal(t, 9, p.Calls(ttatest.OpKill), "Close tried the used sandbox and the pooled one, 3 times each")
		assert.Equal(t, err, exec.Close(), "idempotent")

		p.ClearFaults()
		for _, sb := range p.Leaked() {
			require.NoError(t, sb.Kill(context.Background()))
		}
	})
}

// A callback that panics kills the sandbox before the panic goes on, even
// with a pool, where kills otherwise run in the background.
func TestPool_PanicKillsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
		require.NoError(t, exec.WaitWarm(context.Background()))
		func() {
			defer func() {
				_, ok := recover().(*tta.PanicError)
				require.True(t, ok)
				assert.True(t, p.Sandbox("sbx-1").Killed(), "the pooled sandbox, killed before the panic reached the caller")
			}()
			_, _ = exec.Execute(context.Background(), tta.CodeInput{Code: `print("x")`, OnStdout: func(string) { panic("bug") }})
		}()
	})
}

func TestPool_WaitWarm(t *testing.T) {
	t.Run("fills the pool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := ttatest.NewFakeProvider(slowDefault)
			exec := testenv.FakeExec(t, p, tta.WithWarmPool(2))
			start := time.Now()
			require.NoError(t, exec.WaitWarm(context.Background()))
			assert.Equal(t, 5500*time.Millisecond, time.Since(start), "2 s create, then probes until 5.5 s, both at once")
			assert.Len(t, p.Sandboxes(), 2)

			start = time.Now()
			_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
			require.NoError(t, err)
			assert.Zero(t, time.Since(start))

			start = time.Now()
			require.NoError(t, exec.WaitWarm(context.Background()))
			assert.Equal(t, 5500*time.Millisecond, time.Since(start), "the used slot refilled")
			assert.Len(t, p.Sandboxes(), 3)
			require.NoError(t, exec.WaitWarm(context.Background()))
			assert.Len(t, p.Sandboxes(), 3, "a full pool returns at once")
		})
	})

	t.Run("template never ready", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
			exec := testenv.FakeExec(t, p, tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithWarmPool(2), tta.WithInitWindow(10*time.Second))
			start := time.Now()
			err := exec.WaitWarm(context.Background())
			require.ErrorIs(t, err, tta.ErrTemplateNotReady)
			assert.LessOrEqual(t, time.Since(start), 10*time.Second)
			synctest.Wait()
			assert.Len(t, p.Sandboxes(), 2, "no fill started after the failure")
			assert.Empty(t, p.Leaked())

			require.ErrorIs(t, exec.WaitWarm(context.Background()), tta.ErrTemplateNotReady, "tries again")
			assert.Len(t, p.Sandboxes(), 4)
		})
	})

	t.Run("ctx ends first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := ttatest.NewFakeProvider(slowDefault)
			exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, exec.WaitWarm(ctx), context.DeadlineExceeded)
			require.NoError(t, exec.WaitWarm(context.Background()), "the fill went on")
		})
	})

	t.Run("closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := ttatest.NewFakeProvider(slowDefault)
			exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
			errc := make(chan error, 1)
			go func() { errc <- exec.WaitWarm(context.Background()) }()
			time.Sleep(time.Second)
			require.NoError(t, exec.Close())
			assert.ErrorIs(t, <-errc, tta.ErrClosed)
			assert.ErrorIs(t, exec.WaitWarm(context.Background()), tta.ErrClosed)
		})
	})

	t.Run("no pool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := ttatest.NewFakeProvider()
			exec := testenv.FakeExec(t, p)
			require.NoError(t, exec.WaitWarm(context.Background()))
			assert.Empty(t, p.Sandboxes())
		})
	})
}

// A pooled sandbox that the provider ended while it waited fails the call
// before the code starts; the call is retryable, and Retry runs it in a fresh
// sandbox.
func TestPool_GoneWhileIdleRetriedInFreshSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
		require.NoError(t, exec.WaitWarm(context.Background()))
		p.Sandbox("sbx-1").Expire()

		_, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.False(t, se.Started, "the sandbox was gone before the code started")
		assert.True(t, tta.IsTransient(err), "a fresh sandbox may succeed")
		assert.Empty(t, p.Sandbox("sbx-1").Runs())

		out, err := tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.NotEqual(t, "sbx-1", out.SandboxID)
	})
}

// A call whose context is already done fails at once and leaves the pool's
// sandbox for the next call.
func TestPool_DoneContextTakesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		exec := testenv.FakeExec(t, p, tta.WithWarmPool(1))
		require.NoError(t, exec.WaitWarm(context.Background()))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		_, err := exec.Execute(ctx, tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, context.Canceled)
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.False(t, tta.IsTransient(err))
		synctest.Wait()
		assert.False(t, p.Sandbox("sbx-1").Killed(), "still in the pool")
		assert.Len(t, p.Sandboxes(), 1)

		out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
		require.NoError(t, err)
		assert.Equal(t, "sbx-1", out.SandboxID)
	})
}

// A pooled call has the whole sandbox timeout ahead of it, however long its
// sandbox waited in the pool: up to an eighth of the timeout the eighth more
// it was created with covers the wait; beyond, it is extended when taken.
func TestPool_CallHasTheWholeTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wait     time.Duration
		extended []time.Duration
	}{
		{"fresh", 75 * time.Second, nil},
		{"waited", 4*time.Minute + 59*time.Second, []time.Duration{10 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ttatest.NewFakeProvider()
				var ahead time.Duration
				p.Handle(func(_ context.Context, r ttatest.Run) (ttatest.Output, error) {
					ahead = p.Sandbox(r.SandboxID).Deadline().Sub(r.At)
					return ttatest.Output{Stdout: "done\n"}, nil
				})
				exec := testenv.FakeExec(t, p, tta.WithWarmPool(1), tta.WithSandboxTimeout(10*time.Minute))
				require.NoError(t, exec.WaitWarm(context.Background()))
				time.Sleep(tc.wait)

				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "train()"})
				require.NoError(t, err)
				assert.Equal(t, "sbx-1", out.SandboxID)
				assert.GreaterOrEqual(t, ahead, 10*time.Minute, "the whole timeout ahead when the code started")
				assert.Equal(t, tc.extended, p.Sandbox("sbx-1").Timeouts())
			})
		})
	}
}

// cappedProvider is a FakeProvider that refuses, for good, sandboxes asked to
// live longer than max, and records the lifetime of each create.
type cappedProvider struct {
	*ttatest.FakeProvider
	max time.Duration

	mu        sync.Mutex
	lifetimes []time.Duration
}

func (p *cappedProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	p.mu.Lock()
	p.lifetimes = append(p.lifetimes, req.Timeout)
	p.mu.Unlock()
	if req.Timeout > p.max {
		return nil, fmt.Errorf("timeout %v is over the maximum %v", req.Timeout, p.max)
	}
	return p.FakeProvider.Create(ctx, req)
}

func (p *cappedProvider) created() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lifetimes)
}

// Pooled sandboxes are created to live an eighth longer than the sandbox
// timeout. With the timeout at the provider's maximum, the pool still fills:
// its sandboxes live the timeout itself and are extended when taken.
func TestPool_LifetimeAtProviderMaximum(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      time.Duration
		created  []time.Duration
		extended []time.Duration
	}{
		{"room for the slack", 24 * time.Hour, []time.Duration{9 * time.Hour, 9 * time.Hour}, nil},
		{"timeout at the maximum", 8 * time.Hour, []time.Duration{9 * time.Hour, 8 * time.Hour, 8 * time.Hour}, []time.Duration{8 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := ttatest.NewFakeProvider()
				p := &cappedProvider{FakeProvider: fake, max: tc.max}
				exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithWarmPool(1), tta.WithSandboxTimeout(8*time.Hour))
				require.NoError(t, err)
				require.NoError(t, exec.WaitWarm(context.Background()), "the pool fills")
				time.Sleep(time.Minute)

				out, err := exec.Execute(context.Background(), tta.CodeInput{Code: "1"})
				require.NoError(t, err)
				assert.Equal(t, "sbx-1", out.SandboxID, "taken from the pool")
				assert.Equal(t, tc.extended, fake.Sandbox("sbx-1").Timeouts())
				require.NoError(t, exec.WaitWarm(context.Background()))
				assert.Equal(t, tc.created, p.created()[:len(tc.created)], "the refill needs no second try")
				require.NoError(t, exec.Close())
				fake.AssertNoLeaks(t)
			})
		})
	}
}

// lostMidRunProvider is a FakeProvider whose runs start the code and then
// fail with an error that matches ErrSandboxGone but does not say that the
// code did not start, as a provider written against the plain contract may.
type lostMidRunProvider struct{ *ttatest.FakeProvider }

func (p lostMidRunProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := p.FakeProvider.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	return lostMidRunSandbox{sb}, nil
}

type lostMidRunSandbox struct{ tta.Sandbox }

func (s lostMidRunSandbox) RunCode(ctx context.Context, req tta.RunRequest) (tta.Execution, error) {
	if _, err := s.Sandbox.RunCode(ctx, req); err != nil {
		return tta.Execution{}, err
	}
	return tta.Execution{}, fmt.Errorf("sandbox lost while the code ran: %w", tta.ErrSandboxGone)
}

// Only a provider's explicit word (NotStarted) makes a gone sandbox's run one
// that did not start: a run that fails with a plain ErrSandboxGone may have
// started, and Retry does not run it again.
func TestCodeExec_GoneWithoutNotStartedIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := ttatest.NewFakeProvider()
		exec, err := tta.NewCodeExecution(tta.WithProvider(lostMidRunProvider{fake}))
		require.NoError(t, err)
		defer func() { require.NoError(t, exec.Close()) }()

		_, err = tta.Retry[tta.CodeInput, tta.CodeOutput](exec).Execute(context.Background(), tta.CodeInput{Code: "charge_card()"})
		require.ErrorIs(t, err, tta.ErrSandboxGone)
		var se *tta.SandboxError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Started)
		assert.False(t, tta.IsTransient(err))
		assert.Equal(t, 1, fake.Calls(ttatest.OpRun), "run once")
	})
}
