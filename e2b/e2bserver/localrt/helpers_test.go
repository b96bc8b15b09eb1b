package localrt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// testTimeout bounds every execution of the tests.
const testTimeout = 20 * time.Second

// startTestKernel starts a kernel of language in a fresh directory and closes
// it when the test ends.
func startTestKernel(t *testing.T, language string) *kernel {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	k, err := startKernel(ctx, kernelConfig{language: language, dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, k.Close()) })
	return k
}

// execute runs code and returns every event it emitted.
func execute(t *testing.T, k *kernel, code string, env map[string]string) []wire.ExecutionEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var evs []wire.ExecutionEvent
	err := k.Execute(ctx, code, env, func(ev wire.ExecutionEvent) error {
		evs = append(evs, ev)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, evs)
	require.Equal(t, wire.EventNumberOfExecutions, evs[0].Type, "first event")
	return evs
}

// ofType returns the events of type typ.
func ofType(evs []wire.ExecutionEvent, typ string) []wire.ExecutionEvent {
	var out []wire.ExecutionEvent
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// text concatenates the text of the events of type typ.
func text(evs []wire.ExecutionEvent, typ string) string {
	var b strings.Builder
	for _, ev := range ofType(evs, typ) {
		b.WriteString(ev.Text)
	}
	return b.String()
}

// mainResult returns the single main result.
func mainResult(t *testing.T, evs []wire.ExecutionEvent) wire.ExecutionEvent {
	t.Helper()
	var found []wire.ExecutionEvent
	for _, ev := range ofType(evs, wire.EventResult) {
		if ev.IsMainResult {
			found = append(found, ev)
		}
	}
	require.Len(t, found, 1, "main results in %v", evs)
	return found[0]
}

// singleError returns the single error event.
func singleError(t *testing.T, evs []wire.ExecutionEvent) wire.ExecutionEvent {
	t.Helper()
	errs := ofType(evs, wire.EventError)
	require.Len(t, errs, 1, "errors in %v", evs)
	return errs[0]
}
