package tta_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// logRecords is a slog handler's output: one JSON object a record.
type logRecords struct{ testenv.Buffer }

// records decodes every record.
func (l *logRecords) records(t *testing.T) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		out = append(out, r)
	}
	return out
}

// find returns the first record whose message is msg.
func (l *logRecords) find(t *testing.T, msg string) map[string]any {
	for _, r := range l.records(t) {
		if r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no record %q in:\n%s", msg, l.String())
	return nil
}

// loggingTelemetry returns a Telemetry that logs every level to the records
// it returns.
func loggingTelemetry(t *testing.T) (*tta.Telemetry, *logRecords) {
	var logs logRecords
	tel, err := tta.NewTelemetry(tta.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	return tel, &logs
}

func TestTelemetry_LogsRetriesFallbacksAndBreakerChanges(t *testing.T) {
	tel, logs := loggingTelemetry(t)
	ctx := tta.ContextWithTelemetry(t.Context(), tel)
	flaky := tta.Func[int, int](func(context.Context, int) (int, error) { return 0, errors.New("flaky") })
	breaker := tta.CircuitBreaker[int, int](flaky, tta.FailureThreshold(2))
	flow := tta.Fallback(
		tta.Retry[int, int](breaker, tta.MaxAttempts(2), tta.InitialInterval(0), tta.Jitter(0)),
		tta.Func[int, int](func(_ context.Context, in int) (int, error) { return in, nil }))
	out, err := flow.Execute(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, 7, out)

	retry := logs.find(t, "tta: retrying")
	assert.Equal(t, "INFO", retry["level"])
	assert.EqualValues(t, 1, retry["attempt"])
	assert.Equal(t, "other", retry["error.type"])
	opened := logs.find(t, "tta: circuit breaker open")
	assert.Equal(t, "WARN", opened["level"])
	assert.Equal(t, "closed", opened["from"])
	fallback := logs.find(t, "tta: falling back")
	assert.EqualValues(t, 0, fallback["failed"])
	assert.Equal(t, "retry_exhausted", fallback["error.type"])
}

func TestTelemetry_LogsSandboxesWithoutSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value"
	code := `print("` + secret + `")`
	fake := ttatest.NewFakeProvider()
	fake.Script(code, ttatest.Raise("KeyError", secret))
	tel, logs := loggingTelemetry(t)
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake), tta.WithTelemetry(tel))
	require.NoError(t, err)
	out, err := exec.Execute(t.Context(), tta.CodeInput{Code: code, Env: map[string]string{"API_TOKEN": secret}})
	require.NoError(t, err)
	require.NotNil(t, out.Error)
	require.NoError(t, exec.Close())
	fake.AssertNoLeaks(t)

	created := logs.find(t, "tta: sandbox created")
	assert.Equal(t, "DEBUG", created["level"])
	assert.Equal(t, out.SandboxID, created["sandbox"])
	assert.Equal(t, out.SandboxID, logs.find(t, "tta: sandbox killed")["sandbox"])
	assert.NotContains(t, logs.String(), secret)
	assert.NotContains(t, logs.String(), "API_TOKEN")
}

func TestTelemetry_LogsTemplateNotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "slow", NeverReady: true})
		tel, logs := loggingTelemetry(t)
		exec, err := tta.NewCodeExecution(tta.WithProvider(fake), tta.WithTemplate(tta.Template{Name: "slow"}))
		require.NoError(t, err)
		defer exec.Close()
		_, err = exec.Execute(tta.ContextWithTelemetry(t.Context(), tel), tta.CodeInput{Code: "1"})
		require.ErrorIs(t, err, tta.ErrTemplateNotReady)
		r := logs.find(t, "tta: template not ready")
		assert.Equal(t, "WARN", r["level"])
		assert.Equal(t, "slow", r["template"])
		assert.EqualValues(t, 28, r["probes"], "0.5 s doubling to 5 s in 120 s, and one a second before the end")
		assert.InDelta(t, float64(120*time.Second), r["waited"], float64(time.Second), "nanoseconds")
		assert.NotContains(t, logs.String(), "tta: retrying", "probes are counted, not logged one by one")
	})
}

// Without a logger nothing is logged, not even to slog's default logger.
func TestTelemetry_SilentByDefault(t *testing.T) {
	var logs logRecords
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)

	tel, err := tta.NewTelemetry()
	require.NoError(t, err)
	fake := ttatest.NewFakeProvider()
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake))
	require.NoError(t, err)
	defer exec.Close()
	failing := tta.Func[tta.CodeInput, tta.CodeOutput](func(context.Context, tta.CodeInput) (tta.CodeOutput, error) {
		return tta.CodeOutput{}, errors.New("down")
	})
	flow := tta.Fallback(tta.Retry(failing, tta.MaxAttempts(2), tta.InitialInterval(0)), tta.Primitive[tta.CodeInput, tta.CodeOutput](exec))
	for _, ctx := range []context.Context{t.Context(), tta.ContextWithTelemetry(t.Context(), tel)} {
		_, err = flow.Execute(ctx, tta.CodeInput{Code: "1"})
		require.NoError(t, err)
	}
	assert.Empty(t, logs.String())
}
