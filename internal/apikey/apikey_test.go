package apikey

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValid(t *testing.T) {
	for key, want := range map[string]bool{
		"e2b_0123456789abcdef": true,
		"E2B_ABCDEF":           true,
		"e2b_":                 false,
		"e2b_xyz":              false,
		"sk_0123":              false,
		"":                     false,
		" e2b_00":              false,
	} {
		assert.Equal(t, want, Valid(key), "%q", key)
	}
}

func TestNew(t *testing.T) {
	a, b := New(), New()
	assert.Regexp(t, `^e2b_[0-9a-f]{40}$`, a)
	assert.True(t, Valid(a), "the client accepts it")
	assert.NotEqual(t, a, b)
}

func TestHide(t *testing.T) {
	assert.Equal(t, "key [x], token [x] and e2b_12345 stay apart",
		Hide("key e2b_0123456789abcdef, token E2B_ABCDEF and e2b_12345 stay apart", "[x]"), "five digits are too few to hide")
}
