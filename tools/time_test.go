package tools_test

import (
	"encoding/json"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/tools"
	"github.com/tta-dev/tta/ttatest"
)

// The time-based behaviour of a Set (idle sessions, progress while a sandbox
// starts) runs on the fake provider in fake time.

// fakeSet returns a Set on p with opts, and the tools by name. The caller
// closes the set and the primitive before the bubble ends.
func fakeSet(t *testing.T, p *ttatest.FakeProvider, tpl tta.Template, opts ...tools.Option) (*tools.Set, *tta.CodeExecutionPrimitive, map[string]tools.Tool) {
	t.Helper()
	exec, err := tta.NewCodeExecution(tta.WithProvider(p), tta.WithTemplate(tpl))
	require.NoError(t, err)
	set, err := tools.NewSet(exec, opts...)
	require.NoError(t, err)
	byName := map[string]tools.Tool{}
	for _, tl := range set.Tools() {
		byName[tl.Name] = tl
	}
	return set, exec, byName
}

// openFake opens a session through the tool and returns its ID.
func openFake(t *testing.T, ts map[string]tools.Tool) string {
	t.Helper()
	res := ts["session_open"].Call(t.Context(), nil, nil)
	require.False(t, res.IsError, res.Text())
	var id string
	for i, c := range res.Text() {
		if c == '\n' {
			id = res.Text()[len("session_id: "):i]
			break
		}
	}
	return id
}

func TestIdleSessionIsClosedAfterTheIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		set, exec, ts := fakeSet(t, p, tta.Template{}, tools.WithIdleTimeout(time.Minute))
		id := openFake(t, ts)

		time.Sleep(59 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{id}, set.Sessions(), "not idle long enough")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Empty(t, set.Sessions(), "closed after a minute unused")
		require.Len(t, p.Sandboxes(), 1)
		assert.True(t, p.Sandboxes()[0].Killed(), "its sandbox is killed")

		require.NoError(t, set.Close())
		require.NoError(t, exec.Close())
		p.AssertNoLeaks(t)
	})
}

func TestABusySessionDoesNotIdleOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider()
		p.Script("train()", ttatest.Output{Stdout: "trained\n", Delay: 3 * time.Minute})
		set, exec, ts := fakeSet(t, p, tta.Template{}, tools.WithIdleTimeout(time.Minute))
		id := openFake(t, ts)

		args, _ := json.Marshal(map[string]string{"session_id": id, "code": "train()"})
		res := ts["session_run"].Call(t.Context(), args, nil)
		require.False(t, res.IsError, res.Text())
		assert.Equal(t, "stdout:\ntrained\n", res.Text(), "a call of three minutes kept its session")

		time.Sleep(59 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{id}, set.Sessions(), "the idle time counts from the end of the last call")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Empty(t, set.Sessions())

		require.NoError(t, set.Close())
		require.NoError(t, exec.Close())
		p.AssertNoLeaks(t)
	})
}

func TestProgressWhileTheSandboxStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "slow", ReadyAfter: 2500 * time.Millisecond})
		p.Script("hi()", ttatest.Output{Stdout: "hi\n"})
		set, exec, ts := fakeSet(t, p, tta.Template{Name: "slow"})

		var mu sync.Mutex
		var msgs []string
		res := ts["run_code"].Call(t.Context(), json.RawMessage(`{"code": "hi()"}`), func(m string) {
			mu.Lock()
			defer mu.Unlock()
			msgs = append(msgs, m)
		})
		require.False(t, res.IsError, res.Text())
		mu.Lock()
		// The port opens at 2.5 s; the probe at 3.5 s (backoff from 0.5 s) finds it.
		assert.Equal(t, []string{"starting a sandbox", "waiting for the sandbox: 1s", "waiting for the sandbox: 2s", "waiting for the sandbox: 3s", "stdout: hi\n"}, msgs)
		mu.Unlock()

		require.NoError(t, set.Close())
		require.NoError(t, exec.Close())
		p.AssertNoLeaks(t)
	})
}
