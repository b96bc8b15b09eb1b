# Fork server of the tta local runtime's Python kernels (standard library only).
#
# It runs after the kernel driver's definitions (driver.py, whose _serve it
# does not call), as root on the host, and forks every new kernel of a root
# server's confined sandboxes from this interpreter, its modules already
# imported. Each child is confined before it runs anything of the sandbox's:
# the sandbox's network namespace, new mount, pid, ipc and uts namespaces,
# the root the server built for the sandbox, its cgroups and resource
# limits, then a user namespace of its own in which it becomes the sandbox's
# user. It then serves the driver protocol on fds 3 and 4.
#
# Protocol, on fd 3, a SOCK_SEQPACKET socket: each request is one message,
#   {"id": N, "root": ..., "cwd": ..., "env": {...}, "uid": U, "gid": G,
#    "idmap": [base, size], "hostname": ..., "rlimits": [[res, value], ...],
#    "cgroups": [dir, ...]}
# with five descriptors: the kernel's stdout, stderr, fd 3, fd 4 and the
# sandbox's network namespace. Answers: {"id": N, "pid": P} once forked (P is
# also the kernel's process group), {"id": N, "error": "..."} when it could
# not fork, and {"id": N, "status": S} (a wait status) when it ended. The fork
# server exits when the server closes its end.

import ctypes
import fcntl
import random
import resource
import select
import socket

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MS_REC, _MS_PRIVATE = 0x4000, 1 << 18
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _mount(source, target, fstype, flags):
    _check(_libc.mount(source, target.encode(), fstype, ctypes.c_ulong(flags), None), "mount " + target)


def _enter_root(root, hostname):
    """Make the sandbox's root this process's: a mount namespace of its own
    with private mounts, the pid namespace's /proc, pivot_root, the host's
    root detached."""
    _check(_libc.unshare(_CLONE_NEWNS), "new mount namespace")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount(b"proc", root + "/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    os.chdir(root)
    _check(_libc.syscall(_SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", _MNT_DETACH), "detaching the host's root")
    os.chdir("/")
    name = hostname.encode()
    _check(_libc.sethostname(name, len(name)), "sethostname")


def _kernel(req, ready_r, mapped_w):
    """The kernel: pid 1 of the sandbox's pid namespace."""
    _enter_root(req["root"], req["hostname"])
    for res, value in req["rlimits"]:
        soft, hard = resource.getrlimit(res)
        value = min(value, hard) if hard != resource.RLIM_INFINITY else value
        resource.setrlimit(res, (value, value))
    _check(_libc.unshare(_CLONE_NEWUSER), "new user namespace")
    os.write(mapped_w, b"u")  # ask the parent to map it
    if os.read(ready_r, 1) != b"m":
        raise OSError("the user namespace was not mapped")
    os.close(ready_r)
    os.close(mapped_w)
    # Become the namespace's root first: only a change from its root to
    # another user clears the capabilities (the host's root is not its root).
    os.setgid(0)
    os.setuid(0)
    os.setgroups([])
    os.setgid(req["gid"])
    os.setuid(req["uid"])
    with open("/proc/self/status") as f:
        eff = [l for l in f if l.startswith("CapEff:")]
    if req["uid"] != 0 and (not eff or int(eff[0].split()[1], 16) != 0):
        raise OSError("the kernel kept capabilities as user %d" % req["uid"])
    # Changing credentials cleared it: die with the waiter, as with the server.
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    # The user's site-packages, as a fresh interpreter of this user would
    # have them (the fork server runs with -s: none of its own).
    import site
    site.ENABLE_USER_SITE = "PYTHONNOUSERSITE" not in os.environ
    site.USER_BASE = site.USER_SITE = None
    site.addusersitepackages(None)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python starts
    random.seed()  # its own, not the fork server's
    _serve()


def _child(req, fds):
    """The kernel's waiter: confines, forks the kernel into the new pid
    namespace, maps its user namespace and exits with its status."""
    os.setpgid(0, 0)
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    pid = str(os.getpid())
    for d in req["cgroups"]:
        with open(d + "/cgroup.procs", "w") as f:
            f.write(pid)
    # Out of the way first: a received descriptor may sit where another goes.
    fds = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for i, fd in enumerate(fds[:4]):
        os.dup2(fd, i + 1)
    _check(_libc.setns(fds[4], _CLONE_NEWNET), "entering the sandbox's network")
    os.closerange(5, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    # The kernel takes its own mount namespace itself, so that this process
    # keeps the host's /proc to map the kernel's user namespace.
    _check(_libc.unshare(_CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWUTS), "new namespaces")
    ask_r, ask_w = os.pipe()
    ready_r, ready_w = os.pipe()
    kid = os.fork()
    if kid == 0:
        os.close(ask_r)
        os.close(ready_w)
        try:
            _kernel(req, ready_r, ask_w)
        except BaseException as e:
            os.write(2, ("tta: confining the kernel: %s\n" % e).encode())
        os._exit(125)
    os.close(ask_w)
    os.close(ready_r)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)  # they reach the kernel through the group
    if os.read(ask_r, 1) == b"u":
        base, size = req["idmap"]
        for name in ("uid_map", "gid_map"):
            with open("/proc/%d/%s" % (kid, name), "w") as f:
                f.write("0 %d %d\n" % (base, size))
        os.write(ready_w, b"m")
    while True:
        try:
            _, status = os.waitpid(kid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


def _zygote():
    sock = socket.socket(fileno=3)
    sock.setblocking(True)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    children = {}  # pidfd -> (request id, pid)

    def answer(obj):
        sock.send(json.dumps(obj).encode())

    while True:
        for fd, _ in poller.poll():
            if fd == sock.fileno():
                msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 5)
                if not msg:
                    return
                req = json.loads(msg)
                try:
                    if len(fds) != 5:
                        raise OSError("%d descriptors, want 5" % len(fds))
                    kid = os.fork()
                except BaseException as e:
                    for d in fds:
                        os.close(d)
                    answer({"id": req.get("id"), "error": str(e)})
                    continue
                if kid == 0:
                    try:
                        sock.close()
                        _child(req, fds)
                    except BaseException as e:
                        try:
                            os.write(2, ("tta: confining the kernel: %s\n" % e).encode())
                        finally:
                            os._exit(125)
                for d in fds:
                    os.close(d)
                pidfd = os.pidfd_open(kid)
                children[pidfd] = (req["id"], kid)
                poller.register(pidfd, select.POLLIN)
                answer({"id": req["id"], "pid": kid})
            else:
                rid, kid = children.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(kid, 0)
                answer({"id": rid, "status": status})


_zygote()
