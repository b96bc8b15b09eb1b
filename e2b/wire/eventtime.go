package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// EventTime is the timestamp of a stdout or stderr line of /execute
// (ExecutionEvent.Timestamp): when the interpreter saw the output. It is a
// time.Time with the interpreter's JSON form; the zero value means the line
// carried no usable timestamp.
//
// On the wire E2B's interpreter sends the date of the Jupyter message as an
// ISO 8601 string, such as "2025-06-01T10:00:00.123456+00:00". Decoding
// accepts that form with a numeric offset or "Z", with or without fractional
// seconds, with "T" or a space between date and time, and without an offset
// (a naive time, read as UTC); it also accepts a JSON number as Unix
// nanoseconds, the form of older servers (0 is the zero time). null, any other
// JSON type and an unparsable string decode to the zero time without an
// error, so a bad timestamp never costs the line it is on.
//
// Encoding writes the form E2B's interpreter writes, Python's isoformat in UTC
// with microseconds: "2025-06-01T10:00:00.123456+00:00" (finer precision is
// truncated); the zero time is null, and ExecutionEvent omits it. A year
// outside 0 to 9999 cannot be encoded and is an error.
type EventTime struct {
	time.Time
}

// eventTimeLayout is Python's datetime.isoformat with microseconds and an
// offset, which gives "+00:00" for UTC.
const eventTimeLayout = "2006-01-02T15:04:05.000000-07:00"

// Layouts read besides RFC 3339: a timestamp without an offset (Python's
// isoformat of a naive datetime), and one whose offset has no colon.
const (
	naiveLayout   = "2006-01-02T15:04:05.999999999"
	noColonLayout = "2006-01-02T15:04:05.999999999-0700"
)

// errEventTimeYear reports a time MarshalJSON cannot write in ISO 8601.
var errEventTimeYear = errors.New("wire: EventTime.MarshalJSON: year outside of range [0,9999]")

// MarshalJSON writes the time as E2B's interpreter does (see EventTime), or
// null for the zero time.
func (t EventTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil, errEventTimeYear
	}
	b := make([]byte, 0, len(eventTimeLayout)+2)
	b = append(b, '"')
	b = u.AppendFormat(b, eventTimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads any of the forms EventTime lists. It never fails: what
// it cannot read leaves the zero time.
func (t *EventTime) UnmarshalJSON(data []byte) error {
	t.Time = time.Time{}
	if len(data) == 0 {
		return nil
	}
	switch c := data[0]; {
	case c == '"':
		t.Time = parseEventTime(data)
	case c == '-' || (c >= '0' && c <= '9'):
		t.Time = eventTimeFromNumber(string(data))
	}
	return nil
}

// parseEventTime parses a JSON string holding an ISO 8601 timestamp; zero
// when it is not one.
func parseEventTime(quoted []byte) time.Time {
	var s string
	if bytes.IndexByte(quoted, '\\') < 0 && len(quoted) >= 2 {
		s = string(quoted[1 : len(quoted)-1])
	} else if json.Unmarshal(quoted, &s) != nil {
		return time.Time{}
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return v
	}
	if v, err := time.Parse(noColonLayout, s); err == nil {
		return v
	}
	if v, err := time.ParseInLocation(naiveLayout, s, time.UTC); err == nil {
		return v
	}
	return time.Time{}
}

// eventTimeFromNumber reads Unix nanoseconds, written as an integer or, by a
// JavaScript or Python sender, possibly in floating point; zero for 0 and for
// what is out of range.
func eventTimeFromNumber(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		// 2^63 is exact as a float64; anything at or beyond it does not fit.
		if ferr != nil || f >= 1<<63 || f < -(1<<63) {
			return time.Time{}
		}
		n = int64(f)
	}
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
