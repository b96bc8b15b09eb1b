package localrt

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// hostIDBase is the host uid (and gid) of a sandbox's root user when the
// server runs as root: sandbox ids 0-65535 map to hostIDBase+0-65535, ids no
// host account has, so a sandbox's user 1000 is host uid hostIDBase+1000 and
// holds no privilege on the host. Without root, the server's own uid is the
// only one a sandbox can map: its user 1000 is the server's user.
const hostIDBase = 1 << 30

// Sandbox users' ids inside a sandbox, as on E2B.
const (
	rootID = 0
	userID = 1000
)

// systemPaths are the host directories a sandbox's runtimes need, shown
// read-only at the same path where they exist; merged-/usr links are made
// as links.
var systemPaths = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcPaths are what a sandbox sees of the host's /etc: what programs read
// to run (the dynamic linker's cache, time zone, name service and MIME
// tables, certificates), and nothing that holds secrets (no shadow, no
// keys, no service configuration). /etc/passwd, group, hosts, hostname and
// resolv.conf are the sandbox's own.
var etcPaths = []string{
	"/etc/alternatives", "/etc/bash.bashrc", "/etc/ca-certificates", "/etc/ca-certificates.conf",
	"/etc/debian_version", "/etc/fonts", "/etc/gai.conf", "/etc/host.conf", "/etc/inputrc",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/locale.alias", "/etc/localtime",
	"/etc/mime.types", "/etc/nsswitch.conf", "/etc/os-release", "/etc/pki/ca-trust/extracted",
	"/etc/pki/tls/certs", "/etc/profile", "/etc/profile.d", "/etc/protocols", "/etc/services",
	"/etc/shells", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/timezone",
}

// rootView is what a sandbox's root file system shows of the host, decided
// once per Runtime.
type rootView struct {
	binds []bindSpec        // host paths bound read-only
	links map[string]string // top-level links of merged /usr
	path  string            // PATH of sandbox processes
}

// newRootView finds the system directories, /etc entries and runtime
// installations (python3, node, bash outside them) of this host.
func newRootView() rootView {
	v := rootView{links: make(map[string]string)}
	var paths []string
	for _, p := range systemPaths {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(p); err == nil {
				v.links[p] = t
			}
		case fi.IsDir():
			paths = append(paths, p)
		}
	}
	for _, p := range etcPaths {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	var bins []string
	for _, prefix := range runtimePrefixes() {
		if prefix == "/" || slices.ContainsFunc(paths, func(b string) bool { return isWithin(prefix, b) }) {
			continue
		}
		paths = append(paths, prefix)
		bins = append(bins, filepath.Join(prefix, "bin"))
	}
	slices.Sort(paths) // parents before what is bound inside them
	for _, p := range paths {
		v.binds = append(v.binds, bindSpec{Src: p, Path: p})
	}
	v.path = strings.Join(append(bins, defaultPath), ":")
	return v
}

// runtimePrefixes returns the installation directories of the interpreters
// kernels run: python3's base prefix and node's prefix.
func runtimePrefixes() []string {
	var out []string
	if py, err := pythonPath(); err == nil {
		if o, err := exec.Command(py, "-c", "import sys; print(sys.base_prefix)").Output(); err == nil {
			if p := strings.TrimSpace(string(o)); filepath.IsAbs(p) {
				out = append(out, realPath(p))
			}
		}
	}
	for _, name := range []string{"node", "bash"} {
		if p, err := exec.LookPath(name); err == nil {
			out = append(out, filepath.Dir(filepath.Dir(realPath(p))))
		}
	}
	return out
}

// realPath resolves p's symbolic links, or returns p.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// launchSpec is how a confined process of one sandbox is launched: the
// launcher's configuration (without the command) and the namespaces,
// mappings and cgroup it starts with.
type launchSpec struct {
	cfg    launchConfig
	netns  *netns  // the sandbox's network; nil: the launcher makes its own
	cgroup *cgroup // nil: no cgroup limits
	// privileged: the server is root, sandbox ids map to hostIDBase and up.
	privileged bool
}

// release unmounts and removes the root a root server built for the
// sandbox.
func (l *launchSpec) release() error {
	if l.cfg.Root == "" {
		return nil
	}
	return removeMounted(l.cfg.Root)
}

// readyTimeout bounds the wait for the launcher to set up a process.
const readyTimeout = 30 * time.Second

// startConfined starts s's command through the launcher with stdout,
// stderr and extra as descriptors 1, 2 and 3 on, and returns once the
// command runs in its sandbox (or why it could not).
func (s procSpec) startConfined(stdout, stderr *os.File, extra []*os.File) (*exec.Cmd, error) {
	l := s.confine
	cfg := l.cfg
	cfg.Argv, cfg.Env, cfg.Files = s.argv, s.env, len(extra)
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		closeFiles(cfgR, cfgW)
		return nil, err
	}
	defer closeFiles(cfgW, statusR)

	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{launcherName}
	cmd.Dir = "/"
	cmd.Env = []string{fmt.Sprintf("%s=%d,%d", launcherEnv, 3+len(extra), 4+len(extra))}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = append(slices.Clone(extra), cfgR, statusW)
	// An unprivileged server needs a user namespace to set up the root: its
	// launcher is that namespace's root, the server's own uid. A root server
	// sets it up in namespaces of the host's user namespace, which code in
	// the sandbox, in a user namespace of its own, cannot change.
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	// Pdeathsig: should the server die without closing its sandboxes, the
	// launcher dies, and everything in its namespaces with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if l.netns == nil {
		flags |= syscall.CLONE_NEWNET
	}
	if !l.privileged {
		flags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	cmd.SysProcAttr.Cloneflags = flags
	if l.netns != nil {
		err = l.netns.start(cmd)
	} else {
		err = cmd.Start()
	}
	closeFiles(cfgR, statusW)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*exec.Cmd, error) {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, err
	}
	if l.cgroup != nil {
		if err := l.cgroup.add(cmd.Process.Pid); err != nil {
			return fail(err)
		}
	}
	if _, err := cfgW.Write(data); err != nil {
		return fail(fmt.Errorf("configuring the sandbox launcher: %w", err))
	}
	cfgW.Close()
	_ = statusR.SetReadDeadline(time.Now().Add(readyTimeout))
	line, err := bufio.NewReader(statusR).ReadString('\n')
	switch line = strings.TrimSpace(line); {
	case line == "ok":
		return cmd, nil
	case line != "":
		return fail(errors.New("sandbox launcher: " + line))
	default:
		return fail(fmt.Errorf("sandbox launcher: no answer (%v)", err))
	}
}
