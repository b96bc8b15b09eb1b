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
			_ = removeMounted(filepath.Join(root, e.Name()))
		}
	}
}

// removeMounted detaches whatever is mounted on or under dir, then removes
// dir. It removes nothing while anything is still mounted there: the binds
// of a sandbox's root lead to the host's own directories.
func removeMounted(dir string) error {
	uerr := syscall.Unmount(dir, syscall.MNT_DETACH) // EINVAL when nothing is; EPERM without root
	if p, err := mountUnder(dir); err != nil || p != "" {
		return fmt.Errorf("localrt: %s stays mounted under %s (%v, %v); not removing it", p, dir, uerr, err)
	}
	return os.RemoveAll(dir)
}

// mountUnder returns a mount point at or under dir, or "".
func mountUnder(dir string) (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := unescapeMount(f[4]); isWithin(p, dir) {
			return p, nil
		}
	}
	return "", nil
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
