package localrt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// netns is a sandbox's network namespace, made by the server (which must be
// root) so that it belongs to the host's user namespace: code in the sandbox,
// even as its root user, cannot change its interfaces, routes or firewall.
// Every process of the sandbox runs in it, so they reach each other over
// loopback. With internet access, slirp4netns gives it outbound connections
// made from the host as a user-mode TCP/IP stack, and routes in the
// namespace refuse the host's addresses and the private, link-local and
// shared address ranges; slirp4netns itself refuses the host's loopback.
type netns struct {
	fd    *os.File  // the namespace
	block string    // the prefixes its routes refuse, as blockedPrefixes gave them
	slirp *exec.Cmd // nil without internet access
	// ready waits until slirp4netns has configured the namespace (nil
	// without internet access); it returns the same answer every time.
	ready func() error
}

// blockedRanges are never reachable from a sandbox, even with internet
// access: private (RFC 1918), shared (RFC 6598), link-local, "this network",
// loopback, multicast and reserved addresses.
var blockedRanges = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
}

// slirpDNS is the resolver slirp4netns answers on inside the namespace.
const slirpDNS = "10.0.2.3"

// slirpReadyTimeout bounds the wait for slirp4netns to configure the
// namespace.
const slirpReadyTimeout = 10 * time.Second

// newNetns makes a network namespace with loopback up and, when slirp is
// the path of slirp4netns, outbound internet access through it. ip is the
// path of ip(8), needed for the routes of internet access.
func newNetns(slirp, ip string) (*netns, error) {
	n := &netns{}
	block, err := blockedPrefixes()
	if err != nil {
		return nil, err
	}
	n.block = fmt.Sprint(block)
	err = onLockedThread(func() error {
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			return fmt.Errorf("new network namespace: %w", err)
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		n.fd = f
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("loopback: %w", err)
		}
		// Services on low ports are the sandbox user's to open, as in a VM.
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", []byte("0"), 0); err != nil {
			return fmt.Errorf("unprivileged ports: %w", err)
		}
		if slirp == "" {
			return nil
		}
		var routes strings.Builder
		for _, p := range block {
			fmt.Fprintf(&routes, "route add prohibit %s\n", p)
		}
		cmd := exec.Command(ip, "-batch", "-")
		cmd.Stdin = strings.NewReader(routes.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ip route add prohibit: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	})
	if err == nil && slirp != "" {
		err = n.startSlirp(slirp)
	}
	if err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// blockedPrefixes are blockedRanges plus every address of the host's own
// interfaces, so that services the host listens with on all interfaces stay
// out of reach.
func blockedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range blockedRanges {
		out = append(out, netip.MustParsePrefix(s))
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("host addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
			out = append(out, netip.PrefixFrom(ip.Unmap(), 32))
		}
	}
	return out, nil
}

// startSlirp starts slirp4netns on the namespace; n.ready then waits until
// it has configured it (tap0 with 10.0.2.100, gateway 10.0.2.2, DNS
// slirpDNS), so that the rest of a sandbox's start need not wait for it.
func (n *netns) startSlirp(slirp string) error {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--ready-fd=4", "--netns-type=path", "/proc/self/fd/3", "tap0")
	cmd.ExtraFiles = []*os.File{n.fd, readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &limitedWriter{w: &strings.Builder{}, n: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		readyR.Close()
		return fmt.Errorf("starting slirp4netns: %w", err)
	}
	n.slirp = cmd
	n.ready = sync.OnceValue(func() error {
		defer readyR.Close()
		_ = readyR.SetReadDeadline(time.Now().Add(slirpReadyTimeout))
		var b [1]byte
		if _, err := readyR.Read(b[:]); err != nil || b[0] != '1' {
			return fmt.Errorf("slirp4netns did not configure the sandbox's network (%v)", err)
		}
		return nil
	})
	return nil
}

// working reports whether the namespace's slirp4netns still runs (a
// namespace without one has nothing that could stop).
func (n *netns) working() bool {
	if n.slirp == nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.slirp.Process.Pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return len(rest) > 1 && rest[1] != 'Z' && rest[1] != 'X'
}

// start starts cmd in the namespace.
func (n *netns) start(cmd *exec.Cmd) error {
	return onLockedThread(func() error {
		if err := setns(n.fd, syscall.CLONE_NEWNET); err != nil {
			return fmt.Errorf("entering the sandbox's network: %w", err)
		}
		return cmd.Start()
	})
}

// close stops slirp4netns and releases the namespace; it goes away with the
// last process in it.
func (n *netns) close() {
	if n.slirp != nil {
		_ = n.slirp.Process.Kill()
		_ = n.slirp.Wait()
	}
	if n.fd != nil {
		n.fd.Close()
	}
}

// onLockedThread runs f on a thread of its own and then puts that thread
// back in the process's network namespace. A thread that cannot go back is
// left locked, so the runtime ends it instead of reusing it.
func onLockedThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		err = f()
		if rerr := setns(orig, syscall.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("returning to the host's network: %w", rerr))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// sysSetns is setns(2)'s number on linux/amd64 and linux/arm64.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268}[runtime.GOARCH]

// setns moves the calling thread into the namespace of f.
func setns(f *os.File, nstype int) error {
	if sysSetns == 0 {
		return fmt.Errorf("setns: unsupported architecture %s", runtime.GOARCH)
	}
	if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), uintptr(nstype), 0); e != 0 {
		return e
	}
	return nil
}

// netnsCheck reports why a sandbox network namespace cannot be made here,
// or "" when it can, by making one.
func netnsCheck(ctx context.Context) string {
	if ctx.Err() != nil {
		return ctx.Err().Error()
	}
	n, err := newNetns("", "")
	if err != nil {
		return err.Error()
	}
	n.close()
	return ""
}
