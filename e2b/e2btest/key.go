package e2btest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// generateKey returns a fresh API key in E2B's format: "e2b_" and 40 hex digits.
func generateKey(t testing.TB) string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("e2btest: generating an API key: %v", err)
	}
	return "e2b_" + hex.EncodeToString(b)
}
