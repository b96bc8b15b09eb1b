package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// span is the part of a span that stdouttrace writes and the test reads.
type span struct {
	Name        string
	SpanContext struct{ SpanID string }
	Parent      struct{ SpanID string }
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Events []struct{ Name string }
}

func (s span) attr(key string) any {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Value
		}
	}
	return nil
}

func TestAgentTrace(t *testing.T) {
	testenv.RequireLocalTools(t, "python3")
	got := testenv.ProgramOutput(t, func(w io.Writer) error { return run(context.Background(), w) })

	trace, answer, ok := strings.Cut(got, question+"\n")
	require.True(t, ok, "the question follows the trace")
	assert.Equal(t, "answer: 10466\n", answer)

	byName := map[string]span{}
	byID := map[string]span{}
	dec := json.NewDecoder(strings.NewReader(trace))
	for {
		var s span
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		byName[s.Name] = s
		byID[s.SpanContext.SpanID] = s
	}
	parent := func(name string) string {
		s, ok := byName[name]
		require.True(t, ok, "no span %s", name)
		return byID[s.Parent.SpanID].Name
	}
	assert.Equal(t, "", parent("agent"), "the root")
	assert.Equal(t, "tta.Fallback", parent("small model"))
	assert.Equal(t, "tta.Timeout", parent("large model"))
	assert.Equal(t, "tta.Retry", parent("tta.CodeExecution"))
	for _, step := range []string{"tta.sandbox.create", "tta.sandbox.ready", "tta.code.run", "tta.sandbox.kill"} {
		assert.Equal(t, "tta.CodeExecution", parent(step), step)
	}
	assert.Equal(t, "tta.Then", parent("answer"))

	require.Len(t, byName["tta.Fallback"].Events, 1)
	assert.Equal(t, "tta.fallback", byName["tta.Fallback"].Events[0].Name)
	assert.Equal(t, false, byName["tta.CodeExecution"].attr("tta.code.error"))
	assert.NotEmpty(t, byName["tta.CodeExecution"].attr("tta.sandbox.id"))
	assert.NotContains(t, trace, "range(2, 50)", "no code in the trace")
}
