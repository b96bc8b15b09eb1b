package ttatemporal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
)

func double() tta.Primitive[int, int] {
	return tta.Func[int, int](func(ctx context.Context, n int) (int, error) { return 2 * n, nil })
}

func TestOptionsDerivedFromRetryAndTimeouts(t *testing.T) {
	p := tta.Timeout(tta.Retry(tta.Timeout(double(), 5*time.Second),
		tta.MaxAttempts(4), tta.InitialInterval(200*time.Millisecond), tta.MaxInterval(3*time.Second), tta.Multiplier(1.5)),
		time.Minute)
	a, err := NewActivity("double", p)
	require.NoError(t, err)
	o := a.Options()
	assert.Equal(t, 5*time.Second, o.StartToCloseTimeout, "the Timeout inside Retry bounds each attempt")
	assert.Equal(t, time.Minute, o.ScheduleToCloseTimeout, "the Timeout around Retry bounds all attempts")
	assert.Equal(t, DefaultHeartbeatTimeout, o.HeartbeatTimeout)
	assert.True(t, o.WaitForCancellation)
	require.NotNil(t, o.RetryPolicy)
	assert.Equal(t, temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 1.5,
		MaximumInterval: 3 * time.Second, MaximumAttempts: 4}, *o.RetryPolicy)
}

func TestMaxElapsedTimeBoundsAllAttempts(t *testing.T) {
	a, err := NewActivity("double", tta.Timeout(tta.Retry(double(), tta.MaxElapsedTime(20*time.Second)), time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 20*time.Second, a.Options().ScheduleToCloseTimeout, "the smaller of MaxElapsedTime and the outer Timeout")
	assert.Zero(t, a.Options().StartToCloseTimeout)

	a, err = NewActivity("double", tta.Retry(double(), tta.RetryForever(), tta.InitialInterval(0)))
	require.NoError(t, err)
	assert.Equal(t, DefaultStartToCloseTimeout, a.Options().StartToCloseTimeout, "Temporal needs a bound")
	assert.Equal(t, int32(0), a.Options().RetryPolicy.MaximumAttempts, "RetryForever: no attempt limit")
	assert.Equal(t, time.Millisecond, a.Options().RetryPolicy.InitialInterval, "0 would mean Temporal's 1s")
}

func TestTimeoutWithoutRetryBoundsTheOneAttempt(t *testing.T) {
	a, err := NewActivity("double", tta.Timeout(double(), 7*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 7*time.Second, a.Options().StartToCloseTimeout)
	assert.Zero(t, a.Options().ScheduleToCloseTimeout)
	assert.Nil(t, a.Options().RetryPolicy, "Temporal's default policy retries lost attempts")

	a, err = NewActivity("double", double())
	require.NoError(t, err)
	assert.Equal(t, DefaultStartToCloseTimeout, a.Options().StartToCloseTimeout)
}

func TestOptionsOverrideDerived(t *testing.T) {
	p := tta.Retry(tta.Timeout(double(), 5*time.Second), tta.MaxAttempts(4))
	a, err := NewActivity("double", p,
		WithStartToCloseTimeout(time.Second), WithScheduleToCloseTimeout(time.Hour), WithHeartbeatTimeout(2*time.Second),
		WithRetryPolicy(&temporal.RetryPolicy{MaximumAttempts: 9}), WithTaskQueue("sandboxes"),
		WithActivityOptions(func(o *workflow.ActivityOptions) { o.WaitForCancellation = false }))
	require.NoError(t, err)
	o := a.Options()
	assert.Equal(t, time.Second, o.StartToCloseTimeout)
	assert.Equal(t, time.Hour, o.ScheduleToCloseTimeout)
	assert.Equal(t, 2*time.Second, o.HeartbeatTimeout)
	assert.Equal(t, int32(9), o.RetryPolicy.MaximumAttempts)
	assert.Equal(t, "sandboxes", o.TaskQueue)
	assert.False(t, o.WaitForCancellation)

	o.RetryPolicy.MaximumAttempts = 1
	assert.Equal(t, int32(9), a.Options().RetryPolicy.MaximumAttempts, "Options returns a copy")
}

func TestNewActivityRejectsBadArguments(t *testing.T) {
	cases := []struct {
		name string
		make func() error
		want string
	}{
		{"empty name", func() error { _, err := NewActivity("", double()); return err }, "activity name is empty"},
		{"nil primitive", func() error { _, err := NewActivity[int, int]("x", nil); return err }, "primitive is nil"},
		{"nil option", func() error { _, err := NewActivity("x", double(), nil); return err }, "option 1 is nil"},
		{"zero start-to-close", func() error { _, err := NewActivity("x", double(), WithStartToCloseTimeout(0)); return err }, "WithStartToCloseTimeout: duration must be > 0"},
		{"negative schedule-to-close", func() error {
			_, err := NewActivity("x", double(), WithScheduleToCloseTimeout(-time.Second))
			return err
		}, "WithScheduleToCloseTimeout: duration must be > 0"},
		{"zero heartbeat", func() error { _, err := NewActivity("x", double(), WithHeartbeatTimeout(0)); return err }, "WithHeartbeatTimeout"},
		{"nil policy", func() error { _, err := NewActivity("x", double(), WithRetryPolicy(nil)); return err }, "policy is nil"},
		{"empty queue", func() error { _, err := NewActivity("x", double(), WithTaskQueue("")); return err }, "task queue name is empty"},
		{"nil edit", func() error { _, err := NewActivity("x", double(), WithActivityOptions(nil)); return err }, "edit function is nil"},
		{"nil killer", func() error { _, err := NewActivity("x", double(), WithSandboxKiller(nil)); return err }, "kill function is nil"},
		{"no timeout left", func() error {
			_, err := NewActivity("x", double(), WithActivityOptions(func(o *workflow.ActivityOptions) { o.StartToCloseTimeout = 0 }))
			return err
		}, "neither StartToCloseTimeout nor ScheduleToCloseTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "ttatemporal:")
		})
	}
	assert.PanicsWithValue(t, "ttatemporal: HeartbeatProvider: the provider is nil; pass the provider the code execution would use, such as tta.NewE2BProvider(client)",
		func() { HeartbeatProvider(nil) })
	assert.False(t, errors.Is(nil, ErrMayHaveRun))
}
