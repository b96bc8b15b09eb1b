package tta

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetrySettingsOfReportsOptionsAndInner(t *testing.T) {
	inner := Func[int, int](func(ctx context.Context, n int) (int, error) { return n, nil })
	r := Retry(inner, MaxAttempts(5), InitialInterval(time.Second), MaxInterval(time.Minute),
		Multiplier(3), Jitter(0.2), MaxElapsedTime(time.Hour),
		RetryIf(func(err error) bool { return err.Error() == "again" }))
	s, got, ok := RetrySettingsOf(r)
	require.True(t, ok)
	assert.Equal(t, 5, s.MaxAttempts)
	assert.Equal(t, time.Second, s.InitialInterval)
	assert.Equal(t, time.Minute, s.MaxInterval)
	assert.Equal(t, 3.0, s.Multiplier)
	assert.Equal(t, 0.2, s.Jitter)
	assert.Equal(t, time.Hour, s.MaxElapsedTime)
	out, err := got.Execute(t.Context(), 7)
	require.NoError(t, err)
	assert.Equal(t, 7, out)

	assert.True(t, s.Retryable(errors.New("again")), "RetryIf decides")
	assert.False(t, s.Retryable(errors.New("other")), "RetryIf decides")
	assert.False(t, s.Retryable(Permanent(errors.New("again"))), "Permanent wins over RetryIf")
	assert.False(t, s.Retryable(nil))

	_, _, ok = RetrySettingsOf(Timeout(r, time.Second))
	assert.False(t, ok, "a Timeout around a Retry is not a Retry")
}

func TestZeroRetrySettingsClassifyLikeRetry(t *testing.T) {
	var s RetrySettings
	assert.True(t, s.Retryable(errors.New("plain")))
	assert.False(t, s.Retryable(Permanent(errors.New("x"))))
	assert.False(t, s.Retryable(transientErr{transient: false}))
	assert.True(t, s.Retryable(transientErr{transient: true}))
}

func TestRetrySettingsOfForever(t *testing.T) {
	s, _, ok := RetrySettingsOf(Retry(Func[int, int](func(ctx context.Context, n int) (int, error) { return n, nil }), RetryForever()))
	require.True(t, ok)
	assert.Equal(t, 0, s.MaxAttempts)
}

func TestTimeoutOfReportsDurationAndInner(t *testing.T) {
	inner := Func[int, int](func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	d, got, ok := TimeoutOf(Timeout(inner, 3*time.Second))
	require.True(t, ok)
	assert.Equal(t, 3*time.Second, d)
	out, err := got.Execute(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, 2, out)

	_, _, ok = TimeoutOf(inner)
	assert.False(t, ok)
}

func TestCodeInputEncodesToJSONWithCallbacks(t *testing.T) {
	in := CodeInput{Code: "print(1)", OnStdout: func(string) {}}
	b, err := json.Marshal(in)
	require.NoError(t, err, "a CodeInput with callbacks must still encode (they are left out)")
	var back CodeInput
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "print(1)", back.Code)
	assert.Nil(t, back.OnStdout)
}
