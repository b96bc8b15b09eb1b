package e2bserver

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// keepaliveInterval is how often /execute streams a {"type":"keepalive"} line
// while an execution runs, as E2B's interpreter does.
const keepaliveInterval = 5 * time.Second

// errStreamCut is returned to the runtime when a fault cut the stream.
var errStreamCut = errors.New("e2bserver: stream cut by an injected fault")

// errStreamEnded is returned to a runtime that emits after Execute returned.
var errStreamEnded = errors.New("e2bserver: the execution's stream has ended")

// chanLock is a mutex built on a channel: waiting for it is durably blocking in
// a testing/synctest bubble, unlike sync.Mutex, so fake time can advance while
// a writer waits for a slow reader.
type chanLock chan struct{}

func newChanLock() chanLock { return make(chanLock, 1) }
func (l chanLock) lock()    { l <- struct{}{} }
func (l chanLock) unlock()  { <-l }

// ndjsonStream writes an /execute answer: one JSON object a line.
//
// Lines are not written to the client one by one. An emitted line joins the
// pending ones, and the first line of a burst starts a goroutine that flushes
// everything pending. That goroutine gets to run once the runtime stops
// emitting for a moment (it waits for its code, blocks on a read, or returns):
// events emitted back to back leave in one write, and an event followed by a
// pause reaches the client at once. Lines emitted while a flush is writing
// leave together in the next one. Keepalive lines are flushed when written.
// When Execute returns, the handler takes the stream back (end) and writes
// what is pending with end_of_execution, which net/http flushes with the end
// of the answer: a short execution's whole answer is one write.
type ndjsonStream struct {
	w        http.ResponseWriter
	cancel   func() // cancels the execution
	onExpire func() // expires the sandbox
	cutAt    int    // cut after this many lines (0: never)
	expireAt int    // expire the sandbox after this many lines (0: never)

	// wmu serialises the use of w; it is held while a flush writes to the
	// client, which may block on a slow reader.
	wmu        chanLock
	headerSent bool // status and headers handed to w; guarded by wmu

	mu        sync.Mutex  // guards the fields below; never held while writing to w
	buf       []byte      // encoded lines not yet handed to w
	spare     []byte      // the buffer of the last flush, for reuse
	scheduled bool        // a flush goroutine will take buf
	ended     bool        // the handler took w back; background goroutines leave it alone
	keepalive *time.Timer // stopped by end
	started   bool        // a line was accepted
	lines     int         // lines accepted
	cut       bool        // a fault cut the stream
	err       error       // first write error

	first [512]byte // buf's first backing array: room for a short answer
}

// newNDJSONStream returns a stream writing to w that sends a keepalive line
// every interval until end.
func newNDJSONStream(w http.ResponseWriter, cancel, onExpire func(), faults SandboxFaults, interval time.Duration) *ndjsonStream {
	st := &ndjsonStream{
		w:        w,
		cancel:   cancel,
		onExpire: onExpire,
		cutAt:    faults.CutExecutionAfterLines,
		expireAt: faults.ExpireAfterLines,
		wmu:      newChanLock(),
	}
	st.buf = st.first[:0]
	st.mu.Lock()
	st.keepalive = time.AfterFunc(interval, func() { st.sendKeepalive(interval) })
	st.mu.Unlock()
	return st
}

// emit accepts one execution event, stamping stdout/stderr with the time, and
// makes sure a flush follows.
func (st *ndjsonStream) emit(ev wire.ExecutionEvent) error {
	if ev.Timestamp.IsZero() && (ev.Type == wire.EventStdout || ev.Type == wire.EventStderr) {
		ev.Timestamp = wire.EventTime{Time: time.Now()}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.appendLocked(&ev); err != nil {
		return err
	}
	if !st.scheduled {
		st.scheduled = true
		go st.flush()
	}
	return nil
}

// appendLocked encodes ev as one pending line and applies the faults that
// count lines. The caller holds st.mu.
func (st *ndjsonStream) appendLocked(ev *wire.ExecutionEvent) error {
	switch {
	case st.cut:
		return errStreamCut
	case st.err != nil:
		return st.err
	case st.ended:
		return errStreamEnded
	}
	buf, err := appendEvent(st.buf, ev)
	if err != nil {
		return err
	}
	st.buf = buf
	st.started = true
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

// flush writes the pending lines to the client and flushes them, unless the
// handler has taken the stream back. A write error cancels the execution.
func (st *ndjsonStream) flush() {
	st.wmu.lock()
	defer st.wmu.unlock()
	st.mu.Lock()
	st.scheduled = false
	if st.ended || len(st.buf) == 0 {
		st.mu.Unlock()
		return
	}
	out := st.buf
	st.buf, st.spare = st.spare[:0], nil
	st.mu.Unlock()

	err := st.writeOut(out, true)

	st.mu.Lock()
	st.spare = out[:0]
	if err != nil && st.err == nil {
		st.err = err
		st.cancel()
	}
	st.mu.Unlock()
}

// writeOut hands p to w, sending the status and headers first, and flushes
// when asked. The caller holds st.wmu, or owns the stream after end.
func (st *ndjsonStream) writeOut(p []byte, flush bool) error {
	if !st.headerSent {
		st.headerSent = true
		st.w.Header().Set("Content-Type", "application/x-ndjson")
		st.w.WriteHeader(http.StatusOK)
	}
	if _, err := st.w.Write(p); err != nil {
		return err
	}
	if flush {
		return http.NewResponseController(st.w).Flush()
	}
	return nil
}

// sendKeepalive writes and flushes a keepalive line, then arms the next one.
func (st *ndjsonStream) sendKeepalive(interval time.Duration) {
	st.mu.Lock()
	err := st.appendLocked(&wire.ExecutionEvent{Type: wire.EventKeepalive})
	st.mu.Unlock()
	if err != nil {
		return
	}
	st.flush()
	st.mu.Lock()
	if !st.ended && st.err == nil && !st.cut {
		st.keepalive.Reset(interval)
	}
	st.mu.Unlock()
}

// execute runs req on in with the stream's emit and takes the stream back
// (end) when Execute returns or panics.
func (st *ndjsonStream) execute(ctx context.Context, in Interpreter, req wire.ExecuteRequest) error {
	defer st.end()
	return in.Execute(ctx, req, st.emit)
}

// end takes the stream back from the background once Execute has returned
// (or panicked): it stops the keepalives, keeps flushes from starting and
// waits for one under way. Afterwards only the handler uses the stream,
// through state and finish.
func (st *ndjsonStream) end() {
	st.mu.Lock()
	st.ended = true
	st.keepalive.Stop()
	st.mu.Unlock()
	st.wmu.lock()
	st.wmu.unlock()
}

// state reports whether any line was accepted and whether a fault cut the
// stream.
func (st *ndjsonStream) state() (started, cut bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.started, st.cut
}

// finish writes the pending lines, then last when not nil, to w after end,
// flushing them when asked (otherwise net/http flushes them with the end of
// the answer). With nothing to write it writes nothing, not even the status.
func (st *ndjsonStream) finish(last *wire.ExecutionEvent, flush bool) error {
	if last != nil {
		buf, err := appendEvent(st.buf, last)
		if err != nil {
			return err
		}
		st.buf = buf
	}
	if len(st.buf) == 0 {
		return nil
	}
	return st.writeOut(st.buf, flush)
}
