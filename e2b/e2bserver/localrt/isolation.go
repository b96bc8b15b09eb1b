package localrt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Isolation describes how a Runtime confines its sandboxes on this machine,
// as probed when first asked. Its String is what `tta serve` and `tta run`
// print at start-up.
type Isolation struct {
	// Confined reports that every sandbox process runs in its own user,
	// mount, pid, ipc and uts namespaces, on a root file system of its own
	// (the system's runtime directories read-only, a private /home/user and
	// /tmp, its own /proc and a minimal /dev) as an unprivileged user, in a
	// network namespace of its own.
	Confined bool
	// Reason says why sandboxes are not confined, when Confined is false:
	// their processes then run on the host as the server's user, in the
	// sandbox's directory, with the host's network.
	Reason string
	// User describes who sandbox code runs as.
	User string
	// Network describes the sandboxes' network.
	Network string
	// Internet reports whether sandboxes that allow internet access get it.
	Internet bool
	// Limits lists the resource limits in force; Unenforced those that are
	// not, with why.
	Limits, Unenforced []string
	// Kernels says how kernels start: forked from a warm interpreter, or
	// each as a new process (and why).
	Kernels string
}

// String describes the isolation on one line.
func (i Isolation) String() string {
	if !i.Confined {
		return "NOT confined (" + i.Reason + "): sandbox code runs on the host as the server's user, with its files and network"
	}
	s := "confined: own root file system and namespaces (user, mount, pid, ipc, uts, network); " + i.User + "; " + i.Network
	if len(i.Limits) > 0 {
		s += "; limits: " + strings.Join(i.Limits, ", ")
	}
	if len(i.Unenforced) > 0 {
		s += "; not enforced: " + strings.Join(i.Unenforced, "; ")
	}
	if i.Kernels != "" {
		s += "; kernels: " + i.Kernels
	}
	return s
}

// confinement is what a Runtime decided, once, about confining sandboxes.
type confinement struct {
	Isolation
	privileged bool     // root on the host: id range, shared network, cgroups, disk limits
	view       rootView // what a sandbox's root shows of the host
	// launch is the Runtime's directory of roots: mnt, where an
	// unprivileged server's launchers build theirs (empty on the host), and
	// a root server's sandbox roots.
	launch, mount string
	slirp, ip     string   // tools of internet access; "" without it
	cgroups       *cgroups // nil: cgroup limits not enforced
}

// confine decides how rt confines its sandboxes: it checks the tools and
// rights it needs, then launches a probe process through the launcher.
func (rt *Runtime) confine() *confinement {
	c := &confinement{}
	if !rt.isolate {
		c.Reason = "disabled by WithoutIsolation"
		return c
	}
	if err := os.MkdirAll(rt.root, 0o700); err != nil {
		c.Reason = err.Error()
		return c
	}
	c.privileged = os.Geteuid() == 0
	if c.privileged {
		sweepStale(rt.root, "")
		sweepStale(os.TempDir(), launchPrefix)
	}
	launch, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", launchPrefix, os.Getpid()))
	if err == nil {
		err = os.Mkdir(filepath.Join(launch, "mnt"), 0o700)
	}
	if err != nil {
		c.Reason = err.Error()
		return c
	}
	c.launch, c.mount = launch, filepath.Join(launch, "mnt")
	c.view = newRootView()
	c.Confined = true
	c.User = fmt.Sprintf("user %d, the server's own uid %d on the host", userID, os.Getuid())
	if c.privileged {
		c.User = fmt.Sprintf("user %d, host uid %d (no privilege on the host)", userID, hostIDBase+userID)
	}
	if reason := c.probe(rt.root); reason != "" {
		_ = removeMounted(launch)
		return &confinement{Isolation: Isolation{Reason: reason}}
	}
	c.network(rt)
	c.limits(rt)
	return c
}

// launchPrefix starts the names of Runtimes' launch directories in the
// temporary directory, followed by the server's pid.
const launchPrefix = "tta-launch-"

// release removes the Runtime's cgroups and launch directory.
func (c *confinement) release() {
	if c.cgroups != nil {
		c.cgroups.remove()
	}
	if c.launch != "" {
		_ = removeMounted(c.launch)
	}
}

// network decides the sandboxes' network.
func (c *confinement) network(rt *Runtime) {
	c.Network = "network: private, loopback only"
	if !c.privileged {
		c.Network += " (one namespace per process: a sandbox's processes do not reach each other; no internet access without root)"
		return
	}
	slirp, err := exec.LookPath("slirp4netns")
	if err != nil {
		c.Network += " (no internet access: slirp4netns is not installed; Debian: apt-get install slirp4netns)"
		return
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		c.Network += " (no internet access: ip(8) is not installed; Debian: apt-get install iproute2)"
		return
	}
	c.slirp, c.ip, c.Internet = slirp, ip, true
	c.Network = "network: private; with internet access, outbound through slirp4netns, never to the host or private addresses"
}

// limits decides which of rt's limits are enforced.
func (c *confinement) limits(rt *Runtime) {
	l := rt.limits
	var cgroupWhy string
	switch {
	case !c.privileged:
		cgroupWhy = "the server is not root"
	case l.Memory > 0 || l.Processes > 0 || l.CPU > 0:
		cg, err := newCgroups()
		if err != nil {
			cgroupWhy = err.Error()
		} else {
			c.cgroups = cg
		}
	}
	add := func(set bool, enforced bool, what, why string) {
		switch {
		case !set:
		case enforced:
			c.Limits = append(c.Limits, what)
		default:
			c.Unenforced = append(c.Unenforced, what+" ("+why+")")
		}
	}
	add(l.Memory > 0, c.cgroups != nil, "memory "+bytesString(l.Memory), cgroupWhy)
	add(l.Processes > 0, c.cgroups != nil, strconv.FormatInt(l.Processes, 10)+" processes", cgroupWhy)
	add(l.CPU > 0, c.cgroups != nil, strconv.FormatFloat(l.CPU, 'g', -1, 64)+" CPUs", cgroupWhy)
	add(l.Disk > 0, c.privileged, "disk "+bytesString(l.Disk), "the server is not root")
	add(l.FileSize > 0, true, "files of "+bytesString(l.FileSize), "")
	add(l.OpenFiles > 0, true, strconv.FormatInt(l.OpenFiles, 10)+" open files", "")
}

// bytesString shows n bytes in GiB or MiB.
func bytesString(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// probeTimeout bounds the probe process.
const probeTimeout = 10 * time.Second

// probe launches /bin/true confined in a scratch sandbox under root and
// returns why that fails, or "".
func (c *confinement) probe(root string) string {
	dir, err := os.MkdirTemp(root, "probe-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	if err := c.prepare(dir); err != nil {
		return err.Error()
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return "true not found"
	}
	l, err := c.launchSpec(dir, "probe", "")
	if err != nil {
		return "namespaces unavailable: " + err.Error()
	}
	defer l.release()
	l.cfg.Cwd, l.cfg.UID, l.cfg.GID = homeDir, userID, userID
	if c.privileged {
		n, err := newNetns("", "")
		if err != nil {
			return "network namespace: " + err.Error()
		}
		defer n.close()
		l.netns = n
	}
	spec := procSpec{argv: []string{truePath}, confine: l}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	res, err := runPiped(ctx, spec, pipedHooks{})
	switch {
	case err != nil:
		return "namespaces unavailable: " + err.Error()
	case res.waitErr != nil:
		return "namespaces unavailable: the probe process failed: " + res.waitErr.Error()
	}
	return ""
}

// sandboxDirs are the sandbox's own directories, writable and private to
// it, relative to its host directory and at the same path in its root.
var sandboxDirs = []string{"home/user", "tmp", "root"}

// prepare makes the sandbox directories under dir, owned by the sandbox's
// users.
func (c *confinement) prepare(dir string) error {
	for _, d := range sandboxDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	mode := os.FileMode(0o700)
	for _, b := range c.view.binds {
		if isWithin(b.Path, "/root") {
			mode = 0o711 // the sandbox's user reaches a runtime installed there
		}
	}
	if err := os.Chmod(filepath.Join(dir, "root"), mode); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if c.privileged {
		for d, id := range map[string]int{"home/user": userID, "tmp": rootID, "root": rootID} {
			if err := os.Chown(filepath.Join(dir, d), hostIDBase+id, hostIDBase+id); err != nil {
				return err
			}
		}
	}
	return nil
}

// launchSpec returns how processes of the sandbox at host directory dir
// named id are launched, without the command, with resolv as its
// /etc/resolv.conf. A root server builds the sandbox's root here, once, in
// the Runtime's launch directory: release the spec when the sandbox ends.
func (c *confinement) launchSpec(dir, id, resolv string) (*launchSpec, error) {
	spec := rootSpec{
		Links: c.view.links,
		Generated: map[string]string{
			"/etc/passwd":      "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			"/etc/group":       "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
			"/etc/hostname":    id + "\n",
			"/etc/hosts":       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + id + "\n",
			"/etc/resolv.conf": resolv,
		},
	}
	for _, d := range sandboxDirs {
		spec.Binds = append(spec.Binds, bindSpec{Src: filepath.Join(dir, d), Path: "/" + d, Writable: true})
	}
	spec.Binds = append(spec.Binds, c.view.binds...)
	l := &launchSpec{privileged: c.privileged}
	l.cfg = launchConfig{Hostname: id, Loopback: !c.privileged, Nested: !c.privileged}
	if !c.privileged {
		l.cfg.Mount, l.cfg.rootSpec = c.mount, spec
		return l, nil
	}
	l.cfg.IDMap = &idMap{Base: hostIDBase, Size: 1 << 16}
	root := filepath.Join(c.launch, filepath.Base(dir)+".root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	l.cfg.Root = root
	if err := spec.build(root); err != nil {
		l.release()
		return nil, fmt.Errorf("building the sandbox's root: %w", err)
	}
	return l, nil
}

// owner is the host uid and gid owning a file the server writes for user.
func (c *confinement) owner(user string) (int, bool) {
	if !c.Confined || !c.privileged {
		return 0, false
	}
	if user == rootUser {
		return hostIDBase + rootID, true
	}
	return hostIDBase + userID, true
}

// mountDisk mounts a tmpfs of size bytes on dir, the sandbox's files.
func mountDisk(dir string, size int64) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("mode=0755,size=%d", size)); err != nil {
		return fmt.Errorf("localrt: mounting the sandbox's disk: %w", err)
	}
	return nil
}
