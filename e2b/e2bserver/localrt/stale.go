package localrt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// sweepStale unmounts and removes the entries of root named prefix, a pid
// and "." or "-" that servers which died without closing them left behind:
// sandbox directories (their disks stay mounted until then) and launch
// directories (with the sandboxes' roots). Errors are ignored: it tries
// again next time.
func sweepStale(root, prefix string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := ownerPid(e.Name(), prefix, ".")
		if !ok {
			pid, ok = ownerPid(e.Name(), prefix, "-")
		}
		if ok && gone(pid) {
			_ = removeMounted(filepath.Join(root, e.Name()))
		}
	}
}

// removeMounted detaches whatever is mounted on or under dir, then removes
// dir. It removes nothing while anything is still mounted there: the binds
// of a sandbox's root lead to the host's own directories.
func removeMounted(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	slices.Reverse(mounts) // the deepest first
	var uerr error
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && uerr == nil {
			uerr = err // EPERM without root
		}
	}
	if left, err := mountsUnder(dir); err != nil || len(left) > 0 {
		return fmt.Errorf("localrt: %v stay mounted under %s (%v, %v); not removing it", left, dir, uerr, err)
	}
	return os.RemoveAll(dir)
}

// mountsUnder returns the mount points at or under dir, parents first.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := unescapeMount(f[4]); isWithin(p, dir) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
	return out, nil
}

// unescapeMount decodes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMount(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
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
