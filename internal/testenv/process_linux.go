package testenv

import (
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// ProcessExited waits up to d for the process pid to exit and reports whether
// it did (a process already gone has). It waits on a pidfd, without polling.
func ProcessExited(t testing.TB, pid int, d time.Duration) bool {
	t.Helper()
	const sysPidfdOpen = 434 // the same number on every Linux architecture
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno == syscall.ESRCH {
		return true
	}
	require.Zero(t, errno, "pidfd_open")
	defer syscall.Close(int(fd))
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: 1} // POLLIN: the process exited
	timeout := syscall.NsecToTimespec(d.Nanoseconds())
	for {
		// ppoll rather than poll, which some architectures lack; on EINTR
		// the kernel has left the time remaining in timeout.
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&timeout)), 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		require.Zero(t, errno, "ppoll")
		return n == 1
	}
}
