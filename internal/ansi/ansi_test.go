package ansi

import "testing"

func TestStrip(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                  "plain",
		"\x1b[0;31mValueError\x1b[0m: bad":       "ValueError: bad",
		"\x1b[1;32m----> 1\x1b[39m x":            "----> 1 x",
		"unterminated \x1b[31":                   "unterminated ",
		"cut\x1b[":                               "cut",
		"a lone ESC \x1b stays, [brackets] stay": "a lone ESC \x1b stays, [brackets] stay",
	} {
		if got := Strip(in); got != want {
			t.Errorf("Strip(%q) = %q, want %q", in, got, want)
		}
	}
}
