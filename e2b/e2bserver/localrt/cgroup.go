package localrt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroups are the control groups a Runtime makes for its sandboxes, one per
// sandbox under one of the Runtime's own, below the server's own cgroup. On
// cgroup v2 they are one directory each; on v1, one in each of the memory,
// pids and cpu hierarchies.
type cgroups struct {
	v2   bool
	dirs []string // the Runtime's directories: one on v2, one per hierarchy on v1
}

// cgroupControllers are the v1 hierarchies (and v2 controllers) limits use.
var cgroupControllers = []string{"memory", "pids", "cpu"}

// cgroupPrefix starts the names of Runtimes' cgroups, followed by the
// server's pid.
const cgroupPrefix = "tta-localrt-"

// newCgroups makes the Runtime's cgroups, or says why it cannot. It first
// removes those of Runtimes whose server died.
func newCgroups() (*cgroups, error) {
	name := fmt.Sprintf("%s%d-%s", cgroupPrefix, os.Getpid(), newContextID()[:8])
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	cg := &cgroups{}
	if v2, ok := mounts[""]; ok && len(mounts) == 1 {
		cg.v2 = true
		parent := filepath.Join(v2, own[""])
		sweepStaleCgroups(parent)
		ctrl, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
		if err != nil {
			return nil, err
		}
		for _, c := range cgroupControllers {
			if !strings.Contains(" "+strings.TrimSpace(string(ctrl))+" ", " "+c+" ") {
				return nil, fmt.Errorf("cgroup v2: controller %s is not available in %s", c, parent)
			}
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		cg.dirs = []string{dir}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup v2: enabling controllers in %s: %w", dir, err)
		}
		return cg, nil
	}
	for _, c := range cgroupControllers {
		mnt, ok := mounts[c]
		if !ok {
			cg.remove()
			return nil, fmt.Errorf("cgroup v1: no %s hierarchy is mounted", c)
		}
		sweepStaleCgroups(filepath.Join(mnt, own[c]))
		dir := filepath.Join(mnt, own[c], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			cg.remove()
			return nil, err
		}
		cg.dirs = append(cg.dirs, dir)
	}
	return cg, nil
}

// cgroupMounts maps each v1 controller to its hierarchy's mount point, and
// "" to the v2 mount point.
func cgroupMounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			out[""] = fields[4]
		case "cgroup":
			for _, o := range strings.Split(tail[2], ",") {
				for _, c := range cgroupControllers {
					if o == c {
						out[c] = fields[4]
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup file system is mounted")
	}
	// A v2 mount beside v1 hierarchies (hybrid) has no controllers of ours.
	if len(out) > 1 {
		delete(out, "")
	}
	return out, sc.Err()
}

// ownCgroups maps each controller (and "" for v2) to the server's own
// cgroup path.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// cgroup is one sandbox's control group.
type cgroup struct {
	v2   bool
	dirs []string
}

// sandbox makes the cgroup of sandbox id with limits l.
func (cg *cgroups) sandbox(id string, l Limits) (*cgroup, error) {
	c := &cgroup{v2: cg.v2}
	for _, d := range cg.dirs {
		dir := filepath.Join(d, id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			c.remove()
			return nil, err
		}
		c.dirs = append(c.dirs, dir)
	}
	if err := c.limit(l); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

// limit writes l's memory, process and CPU limits.
func (c *cgroup) limit(l Limits) error {
	const period = 100000 // µs
	quota := int64(l.CPU * period)
	var writes [][2]string // file (relative to the cgroup's hierarchy), value
	if c.v2 {
		if l.Memory > 0 {
			writes = append(writes, [2]string{"memory.max", strconv.FormatInt(l.Memory, 10)}, [2]string{"memory.swap.max", "0"})
		}
		if l.Processes > 0 {
			writes = append(writes, [2]string{"pids.max", strconv.FormatInt(l.Processes, 10)})
		}
		if quota > 0 {
			writes = append(writes, [2]string{"cpu.max", fmt.Sprintf("%d %d", quota, period)})
		}
		return c.write(0, writes)
	}
	if l.Memory > 0 {
		if err := c.write(0, [][2]string{{"memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10)}}); err != nil {
			return err
		}
		// Swap, where accounted, counts against the same limit.
		_ = c.write(0, [][2]string{{"memory.memsw.limit_in_bytes", strconv.FormatInt(l.Memory, 10)}})
	}
	if l.Processes > 0 {
		if err := c.write(1, [][2]string{{"pids.max", strconv.FormatInt(l.Processes, 10)}}); err != nil {
			return err
		}
	}
	if quota > 0 {
		return c.write(2, [][2]string{{"cpu.cfs_period_us", strconv.Itoa(period)}, {"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)}})
	}
	return nil
}

// write writes each value into its file of the hierarchy at index i.
func (c *cgroup) write(i int, files [][2]string) error {
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(c.dirs[i], f[0]), []byte(f[1]), 0); err != nil {
			return fmt.Errorf("cgroup: %s: %w", f[0], err)
		}
	}
	return nil
}

// add moves process pid into the cgroup.
func (c *cgroup) add(pid int) error {
	for _, d := range c.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("cgroup: adding process %d: %w", pid, err)
		}
	}
	return nil
}

// pids lists the processes in the cgroup.
func (c *cgroup) pids() []int {
	if len(c.dirs) == 0 {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(c.dirs[0], "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// cgroupRemoveTimeout bounds how long remove waits for killed processes to
// leave a cgroup.
const cgroupRemoveTimeout = 5 * time.Second

// remove kills every process left in the cgroup and removes it. It reports
// whether it did: false when a process outlived cgroupRemoveTimeout.
func (c *cgroup) remove() bool {
	deadline := time.Now().Add(cgroupRemoveTimeout)
	for {
		for _, pid := range c.pids() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		var busy bool
		for i := len(c.dirs) - 1; i >= 0; i-- {
			if err := os.Remove(c.dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				busy = true
			}
		}
		if !busy {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remove removes the Runtime's (empty) cgroups.
func (cg *cgroups) remove() {
	(&cgroup{dirs: cg.dirs}).remove()
}
