package e2b

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/tta-dev/tta/e2b/wire"
)

// This file decodes the code interpreter's /execute answer: NDJSON, one
// wire.ExecutionEvent a line, streamed as the code runs. Result lines carry images
// in base64 and can be many megabytes long, so lines are read with a growing
// buffer rather than a fixed-size scanner.

// maxEventLine bounds one NDJSON line (256 MiB), so a broken server cannot make
// the client buffer without end.
const maxEventLine = 256 << 20

// errLineTooLong is the cause of an interruption by an over-long line.
var errLineTooLong = fmt.Errorf("an NDJSON line exceeds %d bytes", maxEventLine)

// lineReader reads newline-terminated lines of any length up to maxEventLine.
type lineReader struct {
	r   *bufio.Reader
	buf []byte // reused across lines
}

// readerSize is the size of a lineReader's read buffer: large, so that lines
// of megabytes are read in few calls.
const readerSize = 64 << 10

// readers recycles lineReaders' read buffers. Allocating and clearing 64 KiB
// for every execution cost more than everything else RunCode does.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerSize) }}

// newLineReader reads lines from r; release returns its buffer.
func newLineReader(r io.Reader) lineReader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return lineReader{r: br}
}

// release gives the read buffer back for reuse; lr must not be used again.
func (lr *lineReader) release() {
	lr.r.Reset(nil)
	readers.Put(lr.r)
	lr.r = nil
}

// next returns the next line without its line ending, valid until the next
// call. A last line without a newline is returned with a nil error; the call
// after it returns io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if err == nil && len(lr.buf) == 0 {
			return trimEOL(chunk), nil // the whole line is in the read buffer
		}
		if len(lr.buf)+len(chunk) > maxEventLine {
			return nil, errLineTooLong
		}
		lr.buf = append(lr.buf, chunk...)
		switch {
		case err == nil:
			return trimEOL(lr.buf), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.buf) > 0:
			return trimEOL(lr.buf), nil
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// executionHandlers are RunCode's callbacks; nil ones are skipped.
type executionHandlers struct {
	onStdout func(OutputMessage)
	onStderr func(OutputMessage)
	onResult func(Result)
	onError  func(ExecutionError)
}

// decodeExecution reads an /execute answer to its end_of_execution line,
// calling the handlers as lines arrive, in order. It returns the execution and
// nil, or what arrived so far and an error matching ErrExecutionInterrupted
// when the stream ends early, breaks, or has a line that is not an event (not
// JSON, not an object, or with no readable type). Blank lines, keepalives and
// unknown event types are skipped; a known field of an unexpected JSON type is
// left zero (see wire.ExecutionEvent).
func decodeExecution(r io.Reader, h executionHandlers, red redactor) (*Execution, error) {
	const op = "run code"
	exec := &Execution{Results: []Result{}}
	lr := newLineReader(r)
	defer lr.release()
	for n := 1; ; n++ {
		line, err := lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return exec, newInterruptedError(op, "the answer ended before end_of_execution", io.ErrUnexpectedEOF, red)
			}
			return exec, newInterruptedError(op, "reading the answer failed", err, red)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev wire.ExecutionEvent
		if err := json.Unmarshal(line, &ev); err != nil && !typedEvent(&ev, err) {
			return exec, newInterruptedError(op, fmt.Sprintf("line %d is not an execution event", n), err, red)
		}
		if ev.Type == wire.EventEndOfExecution {
			return exec, nil
		}
		applyEvent(exec, &ev, h)
	}
}

// typedEvent reports whether ev, whose decoding failed with err, is still an
// event to use: the line was a JSON object whose type decoded, and err only
// says that some other field had an unexpected JSON type. encoding/json
// decodes everything else before reporting such a mismatch, and leaves the
// field zero.
func typedEvent(ev *wire.ExecutionEvent, err error) bool {
	var typeErr *json.UnmarshalTypeError
	return ev.Type != "" && errors.As(err, &typeErr) && typeErr.Field != "type"
}

// applyEvent records one event in exec and calls its handler.
func applyEvent(exec *Execution, ev *wire.ExecutionEvent, h executionHandlers) {
	switch ev.Type {
	case wire.EventNumberOfExecutions:
		exec.ExecutionCount = ev.ExecutionCount
	case wire.EventStdout:
		exec.Logs.Stdout = append(exec.Logs.Stdout, ev.Text)
		if h.onStdout != nil {
			h.onStdout(OutputMessage{Line: ev.Text, Timestamp: ev.Timestamp.Time})
		}
	case wire.EventStderr:
		exec.Logs.Stderr = append(exec.Logs.Stderr, ev.Text)
		if h.onStderr != nil {
			h.onStderr(OutputMessage{Line: ev.Text, Timestamp: ev.Timestamp.Time, Error: true})
		}
	case wire.EventResult:
		res := resultFromEvent(ev)
		exec.Results = append(exec.Results, res)
		if h.onResult != nil {
			h.onResult(res)
		}
	case wire.EventError:
		e := ExecutionError{Name: ev.Name, Value: ev.Value, Traceback: ev.Traceback}
		exec.Error = &e
		if h.onError != nil {
			h.onError(e)
		}
	}
}

func resultFromEvent(ev *wire.ExecutionEvent) Result {
	return Result{
		IsMainResult: ev.IsMainResult,
		Text:         ev.Text,
		HTML:         ev.HTML,
		Markdown:     ev.Markdown,
		SVG:          ev.SVG,
		PNG:          ev.PNG,
		JPEG:         ev.JPEG,
		PDF:          ev.PDF,
		LaTeX:        ev.LaTeX,
		JSON:         ev.JSON,
		JavaScript:   ev.JavaScript,
		Data:         ev.Data,
		Chart:        ev.Chart,
		Extra:        ev.Extra,
	}
}
