package localrt

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// The sandbox launcher is this program itself, started again with
// launcherEnv set: the package's init runs it instead of the program. It is
// the first process of a sandbox process's new user, mount, pid, ipc and uts
// namespaces (and, where the server cannot give it the sandbox's network
// namespace, a new network namespace). It builds the sandbox's root file
// system, drops to the sandbox's user, starts the command as its child and
// stays as the namespace's init: it reaps orphans, survives the signals
// sent to its process group (which reach the command directly) and exits
// with the command's status, or 128+n when a signal n ended it. When it
// exits, the kernel kills everything left in the namespace.
//
// The server passes a launchConfig as JSON on one descriptor and reads the
// launcher's answer on another: "ok" once the command runs, or the reason
// it could not be set up (the launcher then exits 125).

// launcherEnv names the environment variable that makes this program the
// sandbox launcher; its value is "<config fd>,<status fd>".
const launcherEnv = "TTA_LOCALRT_LAUNCHER"

// launcherName is the launcher's argv[0], as ps shows it.
const launcherName = "tta-sandbox-init"

// launchConfig is what the launcher needs to set up one sandbox process.
type launchConfig struct {
	Argv  []string `json:"argv"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`   // sandbox path
	Files int      `json:"files"` // descriptors from 3 on passed to the command
	// Root is the sandbox's root, built by the server (a root server builds
	// it once per sandbox). When empty, the launcher builds one from rootSpec
	// on Mount, an empty host directory, in its own mount namespace.
	Root  string `json:"root,omitempty"`
	Mount string `json:"mount,omitempty"`
	rootSpec
	UID int `json:"uid"`
	GID int `json:"gid"`
	// IDMap, when set, runs the command in a user namespace of its own with
	// ids 0 to Size-1 mapped to the host's Base and up (a root server).
	IDMap *idMap `json:"idmap,omitempty"`
	// Nested runs the command in a nested user namespace where only UID is
	// mapped, to the launcher's uid (an unprivileged server, which could map
	// a single uid only).
	Nested bool `json:"nested,omitempty"`
	// Loopback brings up the loopback interface of a network namespace the
	// launcher owns.
	Loopback bool      `json:"loopback,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	Rlimits  []rlimitV `json:"rlimits,omitempty"`
}

// rootSpec is what a sandbox's root holds.
type rootSpec struct {
	// Binds are the host paths the root shows, in order.
	Binds []bindSpec `json:"binds,omitempty"`
	// Links are symbolic links made in the root (merged /usr: /bin -> usr/bin).
	Links map[string]string `json:"links,omitempty"`
	// Generated are files written into the root (/etc/passwd, ...).
	Generated map[string]string `json:"generated,omitempty"`
}

// bindSpec is host directory or file Src shown at Path in a sandbox's
// root, read-only unless Writable.
type bindSpec struct {
	Src      string `json:"src"`
	Path     string `json:"path"`
	Writable bool   `json:"writable,omitempty"`
}

// idMap maps a user namespace's ids 0 to Size-1 to host ids Base and up.
type idMap struct {
	Base int `json:"base"`
	Size int `json:"size"`
}

// rlimitV is one resource limit (setrlimit) of a sandbox process.
type rlimitV struct {
	Resource int    `json:"resource"`
	Value    uint64 `json:"value"`
}

func init() {
	if v, ok := os.LookupEnv(launcherEnv); ok {
		os.Exit(runLauncher(v))
	}
}

// runLauncher is the launcher's main; it returns the exit status.
func runLauncher(fds string) int {
	// Handlers first: as a pid namespace's init, the launcher would
	// otherwise drop signals, or die of them before its command runs.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE)
	go func() {
		for range sigs { // they reach the command through its process group
		}
	}()
	cfgFD, statusFD, ok := strings.Cut(fds, ",")
	cfgN, err1 := strconv.Atoi(cfgFD)
	statusN, err2 := strconv.Atoi(statusFD)
	if !ok || err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "%s: bad %s=%q\n", launcherName, launcherEnv, fds)
		return 125
	}
	syscall.CloseOnExec(statusN) // not the command's
	status := os.NewFile(uintptr(statusN), "status")
	fail := func(err error) int {
		fmt.Fprintf(status, "%v\n", err)
		status.Close()
		return 125
	}
	var cfg launchConfig
	cfgFile := os.NewFile(uintptr(cfgN), "config")
	err := json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		return fail(fmt.Errorf("reading the launch configuration: %w", err))
	}
	if err := cfg.enter(); err != nil {
		return fail(err)
	}
	pid, err := cfg.startCommand()
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(status, "ok")
	status.Close()
	return reapUntil(pid)
}

// enter builds the sandbox's root file system and makes it the launcher's
// root, then sets what the command inherits (network, host name, limits).
func (c *launchConfig) enter() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := c.Root
	if root == "" {
		root = c.Mount
		if err := c.rootSpec.build(root); err != nil {
			return err
		}
	}
	// The pid namespace's own /proc, then the root becomes the process's.
	if err := syscall.Mount("proc", root+"/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := pivot(root); err != nil {
		return err
	}
	if c.Loopback {
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("bringing up loopback: %w", err)
		}
	}
	if c.Hostname != "" {
		if err := syscall.Sethostname([]byte(c.Hostname)); err != nil {
			return fmt.Errorf("setting the host name: %w", err)
		}
	}
	for _, l := range c.Rlimits {
		lim := syscall.Rlimit{Cur: l.Value, Max: l.Value}
		var old syscall.Rlimit
		if err := syscall.Getrlimit(l.Resource, &old); err == nil && old.Max < lim.Max {
			lim.Cur, lim.Max = min(lim.Cur, old.Max), old.Max // never above the hard limit
		}
		if err := syscall.Setrlimit(l.Resource, &lim); err != nil {
			return fmt.Errorf("setting resource limit %d: %w", l.Resource, err)
		}
	}
	return nil
}

// statfs flags the syscall package lacks.
const (
	stNoExec     = 0x8
	stNoAtime    = 0x400
	stNoDirAtime = 0x800
	stRelAtime   = 0x1000
)

// build assembles a sandbox's root on r: a small tmpfs, private to this
// mount namespace, with s.Binds bound in it (the sandbox's own directories
// writable, the host's read-only), links, generated files, a minimal /dev
// and an empty /proc. The tmpfs is read-only once built.
func (s rootSpec) build(r string) error {
	if err := syscall.Mount("tmpfs", r, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=8m"); err != nil {
		return fmt.Errorf("mounting the root tmpfs: %w", err)
	}
	if err := syscall.Mount("", r, "", syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the root private: %w", err)
	}
	for _, b := range s.Binds {
		if err := bindInto(r, b.Src, b.Path, !b.Writable); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Links)) {
		if err := mkdirAll(r, filepath.Dir(name)); err != nil {
			return err
		}
		if err := os.Symlink(s.Links[name], r+name); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("linking %s: %w", name, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Generated)) {
		if err := mkdirAll(r, filepath.Dir(name)); err != nil {
			return err
		}
		if err := writeFileUnforked(r+name, []byte(s.Generated[name])); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := buildDev(r); err != nil {
		return err
	}
	for _, d := range []string{"/proc", "/var", "/run", "/mnt", "/srv", "/opt"} {
		if err := mkdirAll(r, d); err != nil {
			return err
		}
	}
	if err := os.Symlink("/tmp", r+"/var/tmp"); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("linking /var/tmp: %w", err)
	}
	if err := syscall.Mount("", r, "", syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return nil
}

// buildDev makes a minimal /dev: the harmless character devices bound from
// the host, the usual links, and a private /dev/shm.
func buildDev(r string) error {
	if err := mkdirAll(r, "/dev"); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", r+"/dev", "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := bindInto(r, "/dev/"+d, "/dev/"+d, false); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, r+"/dev/"+name); err != nil {
			return fmt.Errorf("linking /dev/%s: %w", name, err)
		}
	}
	if err := mkdirAll(r, "/dev/shm"); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", r+"/dev/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777,size=64m"); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	return nil
}

// bindInto binds host path src at path dst of the root r, read-only when
// ro, never honouring set-user-ID bits or device files.
func bindInto(r, src, dst string, ro bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("binding %s: %w", dst, err)
	}
	target := r + dst
	if fi.IsDir() {
		err = mkdirAll(r, dst)
	} else {
		if err = mkdirAll(r, filepath.Dir(dst)); err == nil {
			err = writeFileUnforked(target, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("binding %s: %w", dst, err)
	}
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s: %w", dst, err)
	}
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_BIND | syscall.MS_NOSUID)
	if fi.Mode()&os.ModeDevice == 0 {
		flags |= syscall.MS_NODEV
	}
	if ro {
		flags |= syscall.MS_RDONLY
	}
	// A remount must keep the flags the host's mount has locked.
	var st syscall.Statfs_t
	if err := syscall.Statfs(src, &st); err == nil {
		for _, f := range [][2]uintptr{{stNoExec, syscall.MS_NOEXEC}, {stNoAtime, syscall.MS_NOATIME}, {stNoDirAtime, syscall.MS_NODIRATIME}, {stRelAtime, syscall.MS_RELATIME}, {syscall.MS_NODEV, syscall.MS_NODEV}} {
			if uintptr(st.Flags)&f[0] != 0 {
				flags |= f[1]
			}
		}
	}
	if err := syscall.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("remounting %s: %w", dst, err)
	}
	return nil
}

// writeFileUnforked writes data to a new file at p while no process forks:
// a child between fork and exec would hold the file open for writing, and
// the root's tmpfs could not be made read-only (EBUSY) while it does.
func writeFileUnforked(p string, data []byte) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	return os.WriteFile(p, data, 0o644)
}

// mkdirAll makes directory p (a root path) in r, where it is missing.
func mkdirAll(r, p string) error {
	if err := os.MkdirAll(r+p, 0o755); err != nil {
		return fmt.Errorf("making %s: %w", p, err)
	}
	return nil
}

// pivot makes r the root of the mount namespace and detaches the old one:
// nothing of the host's file system is reachable afterwards.
func pivot(r string) error {
	if err := os.Chdir(r); err != nil {
		return fmt.Errorf("entering the new root: %w", err)
	}
	if err := syscall.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return os.Chdir("/")
}

// loopbackUp sets the loopback interface of the current network namespace
// up.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr [40]byte // struct ifreq: name, then flags
	copy(ifr[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	*(*uint16)(unsafe.Pointer(&ifr[16])) |= syscall.IFF_UP
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	return nil
}

// startCommand starts the command as the sandbox's user, with its
// environment, working directory and descriptors, in the launcher's process
// group.
func (c *launchConfig) startCommand() (int, error) {
	if len(c.Argv) == 0 {
		return 0, errors.New("no command")
	}
	path, err := lookPath(c.Argv[0], c.Env)
	if err != nil {
		return 0, err
	}
	files := []uintptr{0, 1, 2}
	for i := range c.Files {
		files = append(files, uintptr(3+i))
	}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	switch {
	case c.IDMap != nil:
		m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: c.IDMap.Base, Size: c.IDMap.Size}}
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings, attr.GidMappings = m, m
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{Uid: uint32(c.UID), Gid: uint32(c.GID), Groups: []uint32{}}
	case c.Nested:
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: c.UID, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: c.GID, HostID: os.Getgid(), Size: 1}}
	default:
		attr.Credential = &syscall.Credential{Uid: uint32(c.UID), Gid: uint32(c.GID), Groups: []uint32{}}
	}
	pid, err := syscall.ForkExec(path, c.Argv, &syscall.ProcAttr{Dir: c.Cwd, Env: c.Env, Files: files, Sys: attr})
	if err != nil {
		return 0, fmt.Errorf("starting %s in %s: %w", c.Argv[0], c.Cwd, err)
	}
	return pid, nil
}

// lookPath finds name as exec.LookPath does, on the PATH of env.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	dirs := filepath.SplitList(defaultPath)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			dirs = filepath.SplitList(v)
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found", name)
}

// reapUntil waits for every child the launcher inherits as init until pid
// exits, and returns pid's exit status (128+n for a signal n).
func reapUntil(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 125
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
