// Package apikey knows the shape of an E2B API key: "e2b_" followed by
// hexadecimal digits, the check E2B's official SDKs make before sending one.
// Package e2b's client and package local's WithAPIKey validate keys with it,
// and the test and local servers generate theirs with it, so that every key
// they accept or make is one the client accepts; the client also hides
// anything key-shaped in what it prints with it.
package apikey

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
)

// pattern is the official SDKs' check: case-insensitive hexadecimal digits.
var pattern = regexp.MustCompile(`(?i)^e2b_[0-9a-f]+$`)

// keyLike finds keys inside text: "e2b_" and six or more hexadecimal digits.
var keyLike = regexp.MustCompile(`(?i)e2b_[0-9a-f]{6,}`)

// Valid reports whether key has the shape of an E2B API key.
func Valid(key string) bool { return pattern.MatchString(key) }

// Hide returns text with every key-shaped word in it replaced by
// replacement, whether or not it is a valid or known key.
func Hide(text, replacement string) string { return keyLike.ReplaceAllString(text, replacement) }

// New returns a fresh random key: "e2b_" and 40 lowercase hexadecimal digits
// (160 bits from crypto/rand, which never fails).
func New() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "e2b_" + hex.EncodeToString(b)
}
