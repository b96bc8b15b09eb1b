package localrt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sandboxDirPrefix is the start of the name of sandbox id's directory: the
// server's pid, so that a later server can tell the directories of a server
// that died without closing its sandboxes.
func sandboxDirPrefix(id string) string {
	return fmt.Sprintf("%d.%s-", os.Getpid(), unsafeChars.ReplaceAllString(id, "_"))
}

// ownerPid reads the pid a sandbox directory or cgroup name starts with,
// after prefix.
func ownerPid(name, prefix, sep string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, sep)
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// gone reports whether no process pid runs.
func gone(pid int) bool {
	return pid != os.Getpid() && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// sweepStale unmounts and removes the sandbox directories under root that
// servers which died without closing them left behind (their disks stay
// mounted until then). Errors are ignored: it tries again next time.
func sweepStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if pid, ok := ownerPid(e.Name(), "", "."); ok && gone(pid) {
			dir := filepath.Join(root, e.Name())
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
			_ = os.RemoveAll(dir)
		}
	}
}

// sweepStaleCgroups removes, below parent, the cgroups of Runtimes whose
// server died without closing them.
func sweepStaleCgroups(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if pid, ok := ownerPid(e.Name(), cgroupPrefix, "-"); ok && gone(pid) {
			dir := filepath.Join(parent, e.Name())
			subs, _ := os.ReadDir(dir)
			c := cgroup{dirs: []string{dir}} // removed last: after its children
			for _, s := range subs {
				if s.IsDir() {
					c.dirs = append(c.dirs, filepath.Join(dir, s.Name()))
				}
			}
			c.remove()
		}
	}
}
