package e2bserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// flushRecorder is an http.ResponseWriter that records what each flush sent.
// While hold is set, a flush waits until release is called.
type flushRecorder struct {
	header  http.Header
	hold    chan struct{} // nil: flushes return at once
	inFlush chan struct{} // receives once per held flush, when it starts
	failed  error         // returned by Write when set

	mu      sync.Mutex
	status  int
	pending strings.Builder
	flushes []string
}

func newFlushRecorder() *flushRecorder { return &flushRecorder{header: http.Header{}} }

func (f *flushRecorder) Header() http.Header { return f.header }

func (f *flushRecorder) WriteHeader(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

func (f *flushRecorder) Write(p []byte) (int, error) {
	if f.failed != nil {
		return 0, f.failed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending.Write(p)
}

func (f *flushRecorder) FlushError() error {
	if f.hold != nil {
		f.inFlush <- struct{}{}
		<-f.hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes = append(f.flushes, f.pending.String())
	f.pending.Reset()
	return nil
}

// sent returns what each flush sent and what was written but not flushed.
func (f *flushRecorder) sent() (flushes []string, unflushed string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.flushes...), f.pending.String()
}

// stamp is the time stdout stamps its events with; line is how it is written.
var stamp = time.Date(2025, 6, 1, 10, 0, 0, 123456789, time.FixedZone("CEST", 2*60*60))

func stdout(text string) wire.ExecutionEvent {
	return wire.ExecutionEvent{Type: wire.EventStdout, Text: text, Timestamp: wire.EventTime{Time: stamp}}
}

// line is stdout(text) as E2B's interpreter writes it: the time in UTC, ISO
// 8601 with microseconds and a numeric offset.
func line(text string) string {
	return `{"type":"stdout","text":"` + text + `","timestamp":"2025-06-01T08:00:00.123456+00:00"}` + "\n"
}

func TestNDJSONStreamFlushesWhenTheRuntimePauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, keepaliveInterval)
		defer st.end()

		require.NoError(t, st.emit(stdout("a")))
		synctest.Wait() // the runtime waits: what it emitted goes out
		flushes, unflushed := w.sent()
		assert.Equal(t, []string{line("a")}, flushes, "an event followed by a pause is flushed at once")
		assert.Empty(t, unflushed)
		assert.Equal(t, http.StatusOK, w.status)
		assert.Equal(t, "application/x-ndjson", w.header.Get("Content-Type"))

		require.NoError(t, st.emit(stdout("b")))
		time.Sleep(time.Second)
		flushes, _ = w.sent()
		assert.Equal(t, []string{line("a"), line("b")}, flushes)
	})
}

func TestNDJSONStreamCoalescesBackToBackEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, keepaliveInterval)
		defer st.end()

		// Holding the write lock keeps the flush from running until the burst
		// is over, as when the runtime emits without pausing.
		st.wmu.lock()
		for _, text := range []string{"a", "b", "c"} {
			require.NoError(t, st.emit(stdout(text)))
		}
		st.wmu.unlock()
		synctest.Wait()
		flushes, unflushed := w.sent()
		assert.Equal(t, []string{line("a") + line("b") + line("c")}, flushes, "one flush for the burst")
		assert.Empty(t, unflushed)
	})
}

func TestNDJSONStreamCoalescesLinesEmittedDuringAFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		w.hold, w.inFlush = make(chan struct{}), make(chan struct{})
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, keepaliveInterval)
		defer st.end()

		require.NoError(t, st.emit(stdout("a")))
		<-w.inFlush // the client reads slowly: the flush of "a" is under way
		for _, text := range []string{"b", "c", "d"} {
			require.NoError(t, st.emit(stdout(text)), "emit does not wait for the client")
		}
		w.hold <- struct{}{}
		<-w.inFlush
		w.hold <- struct{}{}
		synctest.Wait()
		flushes, _ := w.sent()
		assert.Equal(t, []string{line("a"), line("b") + line("c") + line("d")}, flushes)
	})
}

func TestNDJSONStreamShortAnswerIsOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, keepaliveInterval)

		st.wmu.lock() // the flush does not get to run before Execute returns
		require.NoError(t, st.emit(stdout("a")))
		require.NoError(t, st.emit(stdout("b")))
		ended := make(chan struct{})
		go func() {
			st.end()
			close(ended)
		}()
		synctest.Wait()
		st.wmu.unlock()
		<-ended
		started, cut := st.state()
		assert.True(t, started)
		assert.False(t, cut)

		require.NoError(t, st.finish(&wire.ExecutionEvent{Type: wire.EventEndOfExecution}, false))
		synctest.Wait()
		flushes, unflushed := w.sent()
		assert.Empty(t, flushes, "the background flush found the stream ended")
		assert.Equal(t, line("a")+line("b")+`{"type":"end_of_execution"}`+"\n", unflushed,
			"the handler writes the whole answer, for net/http to send with its end")
		assert.ErrorIs(t, st.emit(stdout("late")), errStreamEnded)
	})
}

func TestNDJSONStreamExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, keepaliveInterval)
		assert.PanicsWithValue(t, "interpreter bug", func() {
			_ = st.execute(t.Context(), interpreterFunc(func(emit func(wire.ExecutionEvent) error) error {
				_ = emit(stdout("a"))
				panic("interpreter bug")
			}), wire.ExecuteRequest{})
		})
		assert.ErrorIs(t, st.emit(stdout("b")), errStreamEnded, "the stream ended with the panic")
		time.Sleep(time.Minute)
		flushes, unflushed := w.sent()
		assert.Contains(t, []string{"", line("a")}, strings.Join(flushes, "")+unflushed,
			"at most the line emitted before the panic, and no keepalive after it")
	})
}

func TestNDJSONStreamWriteErrorCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		w.failed = errors.New("broken pipe")
		cancelled := 0
		st := newNDJSONStream(w, func() { cancelled++ }, func() {}, SandboxFaults{}, keepaliveInterval)
		require.NoError(t, st.emit(stdout("a")))
		synctest.Wait()
		assert.Equal(t, 1, cancelled, "the execution is cancelled")
		assert.ErrorIs(t, st.emit(stdout("b")), w.failed, "and told why on its next line")
		st.end()
	})
}

func TestNDJSONStreamKeepalives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFlushRecorder()
		st := newNDJSONStream(w, func() {}, func() {}, SandboxFaults{}, 5*time.Second)
		time.Sleep(11 * time.Second)
		keepalive := `{"type":"keepalive"}` + "\n"
		flushes, _ := w.sent()
		assert.Equal(t, []string{keepalive, keepalive}, flushes, "each keepalive is flushed when written")
		st.end()
		time.Sleep(time.Minute)
		flushes, _ = w.sent()
		assert.Len(t, flushes, 2, "none after end")
	})
}

// interpreterFunc is an Interpreter whose Execute runs f; its other methods
// are not used.
type interpreterFunc func(emit func(wire.ExecutionEvent) error) error

func (f interpreterFunc) Execute(_ context.Context, _ wire.ExecuteRequest, emit func(wire.ExecutionEvent) error) error {
	return f(emit)
}

func (interpreterFunc) CreateContext(context.Context, wire.CreateContextRequest) (wire.ContextInfo, error) {
	return wire.ContextInfo{}, nil
}
func (interpreterFunc) ListContexts(context.Context) ([]wire.ContextInfo, error) { return nil, nil }
func (interpreterFunc) RemoveContext(context.Context, string) error              { return nil }
func (interpreterFunc) RestartContext(context.Context, string) error             { return nil }
