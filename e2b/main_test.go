package e2b

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every stream, timer
// and connection the client opens must end with the call that opened it (idle
// keep-alive connections end when the test servers close them).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
