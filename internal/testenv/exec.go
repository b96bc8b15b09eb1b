package testenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/ttatest"
)

// NewExec returns a CodeExecutionPrimitive made with opts and closed when
// the test ends, when Close must succeed and live, the IDs of the sandboxes
// the backend still runs, must report none: whatever the test did, the
// primitive leaked nothing.
func NewExec(t testing.TB, live func() []string, opts ...tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	return newExec(t, func() { assert.Empty(t, live(), "sandboxes still running after Close") }, opts)
}

// FakeExec is NewExec on the fake provider p, whose sandboxes never killed
// are leaks (FakeProvider.AssertNoLeaks).
func FakeExec(t testing.TB, p *ttatest.FakeProvider, opts ...tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	return newExec(t, func() { p.AssertNoLeaks(t) }, append([]tta.Option{tta.WithProvider(p)}, opts...))
}

// ServerExec is NewExec on env's E2B-compatible server, reached through
// env's client: every sandbox the server knows, whatever its state, counts.
func ServerExec(t testing.TB, env *e2btest.Env, opts ...tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	return NewExec(t, func() []string {
		var ids []string
		for _, sb := range env.Server.Sandboxes() {
			ids = append(ids, sb.SandboxID)
		}
		return ids
	}, append([]tta.Option{tta.WithE2BClient(env.Client)}, opts...)...)
}

// newExec makes the primitive and, when the test ends, closes it and runs
// checkLeaks.
func newExec(t testing.TB, checkLeaks func(), opts []tta.Option) *tta.CodeExecutionPrimitive {
	t.Helper()
	exec, err := tta.NewCodeExecution(opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, exec.Close())
		checkLeaks()
	})
	return exec
}
