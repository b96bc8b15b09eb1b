package e2bserver

import (
	"encoding/json"

	"github.com/tta-dev/tta/e2b/wire"
)

// appendEvent appends ev as one NDJSON line, newline included, encoded as
// json.Encoder with SetEscapeHTML(false) does, so that code output containing
// <, > and & reaches the client as written.
func appendEvent(dst []byte, ev *wire.ExecutionEvent) ([]byte, error) {
	lb := lineBuffer{b: dst}
	enc := json.NewEncoder(&lb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return dst, err
	}
	return lb.b, nil
}

// lineBuffer is a byte slice that json.Encoder can append to.
type lineBuffer struct{ b []byte }

func (lb *lineBuffer) Write(p []byte) (int, error) {
	lb.b = append(lb.b, p...)
	return len(p), nil
}
