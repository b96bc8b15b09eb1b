// Package ansi removes terminal colour sequences from text meant for people
// or models that do not read them (tracebacks of IPython-style kernels).
package ansi

import "strings"

// Strip returns s without its CSI sequences (ESC [ ... final byte), such as
// colour codes; s is returned as it is when it holds none.
func Strip(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
