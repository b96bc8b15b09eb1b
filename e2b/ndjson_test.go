package e2b

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeExecutionReadsEveryTimestampForm(t *testing.T) {
	want := time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)
	body := strings.Join([]string{
		`{"type":"stdout","text":"iso\n","timestamp":"2025-06-01T10:00:00.123456+00:00"}`,
		`{"type":"stderr","text":"z\n","timestamp":"2025-06-01T10:00:00.123456Z"}`,
		`{"type":"stdout","text":"naive\n","timestamp":"2025-06-01T10:00:00.123456"}`,
		`{"type":"stdout","text":"nanos\n","timestamp":1748772000123456000}`,
		`{"type":"stdout","text":"null\n","timestamp":null}`,
		`{"type":"stdout","text":"absent\n"}`,
		`{"type":"stderr","text":"garbage\n","timestamp":"not a time"}`,
		`{"type":"stdout","text":"object\n","timestamp":{"sec":1}}`,
		`{"type":"end_of_execution"}`,
	}, "\n") + "\n"
	got := map[string]time.Time{}
	record := func(m OutputMessage) { got[m.Line] = m.Timestamp }
	exec, err := decodeExecution(strings.NewReader(body), executionHandlers{onStdout: record, onStderr: record}, nil)
	require.NoError(t, err, "no timestamp fails its line")
	assert.Equal(t, []string{"iso\n", "naive\n", "nanos\n", "null\n", "absent\n", "object\n"}, exec.Logs.Stdout)
	assert.Equal(t, []string{"z\n", "garbage\n"}, exec.Logs.Stderr)
	for _, l := range []string{"iso\n", "z\n", "naive\n", "nanos\n"} {
		assert.True(t, want.Equal(got[l]), "%q: got %v", l, got[l])
	}
	for _, l := range []string{"null\n", "absent\n", "garbage\n", "object\n"} {
		assert.True(t, got[l].IsZero(), "%q: got %v", l, got[l])
	}
}
