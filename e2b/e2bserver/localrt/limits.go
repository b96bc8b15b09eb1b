package localrt

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// Limits are the resources one sandbox may use. A sandbox that reaches one
// fails alone: its allocation fails or its process is killed (memory), its
// fork fails (processes), its writes fail with "no space left" (disk); the
// server and other sandboxes go on. Zero leaves a limit unset.
//
// Memory, Processes and CPU are enforced through a cgroup per sandbox, Disk
// through a size-limited tmpfs for the sandbox's files; both need the server
// to run as root (Runtime.Isolation says which are in force). FileSize and
// OpenFiles are per-process resource limits and always apply.
type Limits struct {
	// Memory caps the memory of all the sandbox's processes together, in
	// bytes; the kernel kills a process of the sandbox that would exceed it.
	// The sandbox's files count too: they are kept in memory.
	Memory int64
	// Processes caps the processes and threads of the sandbox together.
	Processes int64
	// CPU caps the processor time of the sandbox, in CPUs (1.5 is one and a
	// half CPUs' worth of time).
	CPU float64
	// Disk caps the size of the sandbox's files (/home/user, /tmp and /root
	// together), in bytes.
	Disk int64
	// FileSize caps the size of a file a process writes, in bytes.
	FileSize int64
	// OpenFiles caps each process's open file descriptors.
	OpenFiles int64
}

// DefaultLimits are the limits of a Runtime created without WithLimits: 2
// GiB of memory, 1024 processes, two CPUs (or the machine's count when it
// has fewer), 2 GiB of files, 2 GiB per file, 4096 open files per process.
func DefaultLimits() Limits {
	return Limits{
		Memory:    2 << 30,
		Processes: 1024,
		CPU:       float64(min(2, runtime.NumCPU())),
		Disk:      2 << 30,
		FileSize:  2 << 30,
		OpenFiles: 4096,
	}
}

// validate reports a negative limit.
func (l Limits) validate() error {
	if l.Memory < 0 || l.Processes < 0 || l.CPU < 0 || l.Disk < 0 || l.FileSize < 0 || l.OpenFiles < 0 {
		return fmt.Errorf("negative limit in %+v", l)
	}
	return nil
}

// Resource numbers of setrlimit on Linux.
const (
	rlimitFSIZE  = 1
	rlimitNOFILE = 7
)

// rlimits are l's per-process limits.
func (l Limits) rlimits() []rlimitV {
	var out []rlimitV
	if l.FileSize > 0 {
		out = append(out, rlimitV{Resource: rlimitFSIZE, Value: uint64(l.FileSize)})
	}
	if l.OpenFiles > 0 {
		out = append(out, rlimitV{Resource: rlimitNOFILE, Value: uint64(l.OpenFiles)})
	}
	return out
}

// apply sets l's per-process limits on the running process pid (processes
// not confined, which the launcher cannot limit before they start).
func (l Limits) apply(pid int) error {
	for _, r := range l.rlimits() {
		lim := syscall.Rlimit{Cur: r.Value, Max: r.Value}
		var old syscall.Rlimit
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(r.Resource), 0, uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
			return fmt.Errorf("localrt: reading resource limit %d: %w", r.Resource, errno)
		}
		if old.Max < lim.Max {
			lim.Cur, lim.Max = min(lim.Cur, old.Max), old.Max // never raise a hard limit
		}
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(r.Resource), uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
			if errno == syscall.ESRCH {
				return nil // already gone
			}
			return fmt.Errorf("localrt: setting resource limit %d: %w", r.Resource, errno)
		}
	}
	return nil
}
