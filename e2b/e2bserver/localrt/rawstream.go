package localrt

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// markerDigits is the length of the hexadecimal execution id that ends a sync
// marker.
const markerDigits = 16

// rawScanner splits what a process writes to a pipe into text chunks and sync
// markers. A sync marker is prefix followed by an execution id in 16 hex
// digits; the Go side writes one into the pipe after an execution ends, so the
// marker's arrival proves that everything written before it has been read. A
// nil prefix disables markers.
//
// Chunks never end inside a UTF-8 sequence or inside what may be the start of a
// marker: those bytes wait for the next feed (or for flush).
//
// A rawScanner is used by one goroutine.
type rawScanner struct {
	prefix  []byte
	pending []byte
}

// feed scans chunk, calling text for output and marker for each marker seen.
func (s *rawScanner) feed(chunk []byte, text func([]byte), marker func(id uint64)) {
	buf := chunk
	if len(s.pending) > 0 {
		buf = append(s.pending, chunk...)
		s.pending = nil
	}
	for len(s.prefix) > 0 {
		i := bytes.Index(buf, s.prefix)
		if i < 0 {
			break
		}
		end := i + len(s.prefix) + markerDigits
		if end > len(buf) {
			if i > 0 {
				text(buf[:i])
			}
			s.pending = append([]byte(nil), buf[i:]...)
			return
		}
		if i > 0 {
			text(buf[:i])
		}
		if id, err := strconv.ParseUint(string(buf[i+len(s.prefix):end]), 16, 64); err == nil {
			marker(id)
		}
		buf = buf[end:]
	}
	keep := partialPrefix(buf, s.prefix)
	if keep == 0 {
		keep = incompleteUTF8(buf)
	}
	if n := len(buf) - keep; n > 0 {
		text(buf[:n])
	}
	if keep > 0 {
		s.pending = append([]byte(nil), buf[len(buf)-keep:]...)
	}
}

// flush returns the bytes held back and forgets them.
func (s *rawScanner) flush() []byte {
	p := s.pending
	s.pending = nil
	return p
}

// partialPrefix returns the length of the longest suffix of buf that is a
// proper prefix of prefix.
func partialPrefix(buf, prefix []byte) int {
	n := min(len(prefix)-1, len(buf))
	for ; n > 0; n-- {
		if bytes.HasPrefix(prefix, buf[len(buf)-n:]) {
			return n
		}
	}
	return 0
}

// incompleteUTF8 returns the length of the unfinished UTF-8 sequence at the
// end of buf (0 when buf ends on a rune boundary or with invalid bytes).
func incompleteUTF8(buf []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(buf); i++ {
		b := buf[len(buf)-i]
		if utf8.RuneStart(b) {
			if b < utf8.RuneSelf {
				return 0
			}
			if !utf8.FullRune(buf[len(buf)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
