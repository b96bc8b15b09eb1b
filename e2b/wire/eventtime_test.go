package wire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventTimeUnmarshal(t *testing.T) {
	want := time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)
	whole := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		json string
		want time.Time // zero: no timestamp
	}{
		{"isoformat in UTC, as E2B sends it", `"2025-06-01T10:00:00.123456+00:00"`, want},
		{"Z", `"2025-06-01T10:00:00.123456Z"`, want},
		{"no fractional seconds", `"2025-06-01T10:00:00+00:00"`, whole},
		{"no fractional seconds, Z", `"2025-06-01T10:00:00Z"`, whole},
		{"milliseconds", `"2025-06-01T10:00:00.123Z"`, time.Date(2025, 6, 1, 10, 0, 0, 123000000, time.UTC)},
		{"nanoseconds", `"2025-06-01T10:00:00.123456789Z"`, time.Date(2025, 6, 1, 10, 0, 0, 123456789, time.UTC)},
		{"another offset", `"2025-06-01T12:00:00.123456+02:00"`, want},
		{"negative offset", `"2025-06-01T05:30:00.123456-04:30"`, want},
		{"offset without colon", `"2025-06-01T12:00:00.123456+0200"`, want},
		{"naive is UTC", `"2025-06-01T10:00:00.123456"`, want},
		{"naive without fraction", `"2025-06-01T10:00:00"`, whole},
		{"space separator", `"2025-06-01 10:00:00.123456+00:00"`, want},
		{"unix nanoseconds", `1748772000123456000`, want},
		{"unix nanoseconds in exponent form", `1.748772000123456e18`, time.Unix(0, int64(1.748772000123456e18))},
		{"negative nanoseconds", `-1000000000`, time.Unix(-1, 0)},
		{"zero nanoseconds", `0`, time.Time{}},
		{"nanoseconds out of range", `1e19`, time.Time{}},
		{"null", `null`, time.Time{}},
		{"empty string", `""`, time.Time{}},
		{"not a time", `"yesterday"`, time.Time{}},
		{"date only", `"2025-06-01"`, time.Time{}},
		{"escaped", `"2025-06-01T10:00:00.123456\u002B00:00"`, want},
		{"bool", `true`, time.Time{}},
		{"object", `{"t":1}`, time.Time{}},
		{"array", `[1]`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			et := EventTime{Time: time.Now()} // overwritten, even with zero
			require.NoError(t, json.Unmarshal([]byte(tt.json), &et))
			if tt.want.IsZero() {
				assert.True(t, et.IsZero(), "got %v", et.Time)
				return
			}
			assert.True(t, tt.want.Equal(et.Time), "got %v, want %v", et.Time, tt.want)
		})
	}
}

func TestEventTimeMarshal(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"UTC with microseconds", time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC), `"2025-06-01T10:00:00.123456+00:00"`},
		{"whole seconds keep six digits", time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), `"2025-06-01T10:00:00.000000+00:00"`},
		{"nanoseconds are truncated", time.Date(2025, 6, 1, 10, 0, 0, 999999999, time.UTC), `"2025-06-01T10:00:00.999999+00:00"`},
		{"another zone is written in UTC", time.Date(2025, 6, 1, 12, 0, 0, 1000, cest), `"2025-06-01T10:00:00.000001+00:00"`},
		{"zero is null", time.Time{}, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(EventTime{Time: tt.t})
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
		})
	}

	_, err := json.Marshal(EventTime{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	assert.ErrorContains(t, err, "year outside of range")
}

func TestExecutionEventTimestampOnTheWire(t *testing.T) {
	ev := ExecutionEvent{Type: EventStdout, Text: "hi\n", Timestamp: EventTime{Time: time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)}}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"stdout","text":"hi\n","timestamp":"2025-06-01T10:00:00.123456+00:00"}`, string(b))

	var back ExecutionEvent
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, ev.Timestamp.Equal(back.Timestamp.Time), "round trip")

	b, err = json.Marshal(ExecutionEvent{Type: EventResult, Text: "2"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "timestamp", "a zero timestamp is omitted")
}
