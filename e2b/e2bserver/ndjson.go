package e2bserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// KeepaliveInterval is how often /execute streams a {"type":"keepalive"} line
// while an execution runs, as E2B's interpreter does.
const KeepaliveInterval = 5 * time.Second

// errStreamCut is returned to the runtime when a fault cut the stream.
var errStreamCut = errors.New("e2bserver: stream cut by an injected fault")

// chanLock is a mutex built on a channel: waiting for it is durably blocking in
// a testing/synctest bubble, unlike sync.Mutex, so fake time can advance while
// a writer waits for a slow reader.
type chanLock chan struct{}

func newChanLock() chanLock { return make(chanLock, 1) }
func (l chanLock) lock()    { l <- struct{}{} }
func (l chanLock) unlock()  { <-l }

// ndjsonStream writes an /execute answer: one JSON object a line, each flushed
// at once, with keepalive lines from a ticker and injected cuts.
type ndjsonStream struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	cancel   func() // cancels the execution
	onExpire func() // expires the sandbox
	cutAt    int    // cut after this many lines (0: never)
	expireAt int    // expire the sandbox after this many lines (0: never)

	mu      chanLock // guards the fields below and writes to w
	started bool     // status and headers sent
	lines   int      // lines written
	cut     bool     // a fault cut the stream
	err     error    // first write error
}

// emit writes one execution event, stamping stdout/stderr with the time.
func (st *ndjsonStream) emit(ev e2b.ExecutionEvent) error {
	if ev.Timestamp == 0 && (ev.Type == e2b.EventStdout || ev.Type == e2b.EventStderr) {
		ev.Timestamp = time.Now().UnixNano()
	}
	return st.write(ev)
}

// write encodes v as one line and flushes it.
func (st *ndjsonStream) write(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}

	st.mu.lock()
	defer st.mu.unlock()
	if st.cut {
		return errStreamCut
	}
	if st.err != nil {
		return st.err
	}
	if !st.started {
		st.started = true
		st.w.Header().Set("Content-Type", "application/x-ndjson")
		st.w.WriteHeader(http.StatusOK)
	}
	_, err := st.w.Write(buf.Bytes())
	if err == nil {
		err = st.rc.Flush()
	}
	if err != nil {
		st.err = err
		st.cancel()
		return err
	}
	st.lines++
	switch {
	case st.expireAt > 0 && st.lines >= st.expireAt:
		st.cut = true
		st.cancel()
		st.onExpire()
		return errStreamCut
	case st.cutAt > 0 && st.lines >= st.cutAt:
		st.cut = true
		st.cancel()
		return errStreamCut
	}
	return nil
}

// state reports whether anything was sent and whether a fault cut the stream.
func (st *ndjsonStream) state() (started, cut bool) {
	st.mu.lock()
	defer st.mu.unlock()
	return st.started, st.cut
}

// keepalive writes a keepalive line every interval until the returned stop
// function is called; stop waits for the writer goroutine to end.
func (st *ndjsonStream) keepalive(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if st.write(e2b.ExecutionEvent{Type: e2b.EventKeepalive}) != nil {
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
