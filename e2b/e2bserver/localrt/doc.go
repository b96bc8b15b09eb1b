// Package localrt runs E2B-compatible sandboxes as local processes: it is the
// Runtime behind e2bserver.Server when code runs on this machine, with no
// account and no network.
//
// A sandbox is a private directory plus processes. Its code interpreter runs
// kernels: a persistent python3 interpreter or node vm context per execution
// context, driven by small programs embedded in the package (standard
// library only), or a fresh bash per execution. They behave as E2B's Jupyter
// kernels do: state persists across executions, the final expression's value
// is the main result (with rich _repr_html_, _repr_png_, ... forms in Python,
// and matplotlib figures as PNG when matplotlib is installed), stdout and
// stderr stream with timestamps as they are produced, exceptions are
// name/value/traceback error events, and cancelling interrupts the code with
// SIGINT without losing the context. envd's files live in the sandbox's
// directory, reached through an os.Root so that no path or symbolic link
// leads out of it; its processes run in the sandbox.
//
// # Options
//
// New takes Options named With..., applied in order. Each is checked when New
// applies it: an option given a bad value, and a nil Option, make New return an
// error that says which. New never panics.
//
// # Isolation
//
// This is process isolation, not a virtual machine: production untrusted code
// belongs on E2B. Where the kernel permits (probed once; Runtime.Isolation
// says what is in force), every sandbox process starts through a launcher
// (this program, run again: the package's init takes over when a variable of
// its own is set) in new mount, pid, ipc and uts namespaces and a user
// namespace of its own, and sees a root file system built for it:
//
//   - the host's /usr, /bin, /lib*, the installations of python3 and node,
//     and an allow-list of /etc (no shadow, no keys) read-only, without
//     set-user-ID programs; /etc/passwd, group, hosts and resolv.conf are
//     the sandbox's own;
//   - its own writable /home/user, /tmp and /root, the same for every
//     process of the sandbox and what envd's file API reads and writes;
//   - a /proc of its pid namespace, a minimal /dev, nothing else of the
//     host: not /home, not /root, not the server's directories, not other
//     sandboxes.
//
// Code runs as user (uid 1000, as on E2B) or root inside; with a root server
// they map to host uids 2^30+1000 and 2^30, which no account has, and the
// namespaces the sandbox lives in belong to the host, so even its root user
// cannot change its mounts or network. A root server also gives each
// sandbox one network namespace for all its processes (loopback between
// them works) with internet access, when the sandbox allows it (not when
// allow_internet_access is false or network.denyOut is 0.0.0.0/0; rules that
// allow some destinations and not others cannot be enforced, and such a
// create is refused), through slirp4netns: outbound connections leave from the host's user-mode stack,
// and the host's own addresses, its loopback and the private, shared and
// link-local ranges are refused. The network of an ended sandbox with
// internet access is kept for the next one (four at most, once every process
// of its sandbox has ended and while the host's addresses are those its
// routes refuse): destroying one is slow in the kernel. Without slirp4netns
// and ip(8), or without root, sandboxes have loopback only; without root
// each process has a network namespace of its own. Limits (memory, processes, CPU through a
// cgroup per sandbox, disk through a size-limited tmpfs) need root too.
//
// A root server forks Python kernels from a fork server: one python3 per
// Runtime with the kernel driver's modules imported. Each forked kernel is
// confined as above before it runs anything of the sandbox's, keeps only
// its own pipes, draws its own random numbers and starts with a fresh
// __main__; a sandbox starts in milliseconds rather than the tens an
// interpreter takes. A kernel that cannot be confined after the fork is
// started as a process of its own, as without root, and Isolation says so.
// Forked kernels share the fork server's hash seed (PYTHONHASHSEED).
//
// Where namespaces are forbidden (some containers) or WithoutIsolation is
// given, processes run on the host as the server's user in their own
// process groups, with the sandbox's home as working directory and $HOME
// (absolute /home/user paths in code do not reach it) and the host's
// network. Every process of a sandbox is killed when it closes.
//
// # Kernel protocol
//
// A driver process reads requests on file descriptor 3 and writes events on
// file descriptor 4, one JSON object a line, so that user code writing to
// stdout cannot corrupt the protocol:
//
//	-> {"id":7,"count":3,"code":"x + 1","env":{"K":"V"}}
//	<- {"id":7,"type":"stdout","text":"...","timestamp":1700000000000000000}
//	<- {"id":7,"type":"result","is_main_result":true,"text":"42","html":"..."}
//	<- {"id":7,"type":"error","name":"ZeroDivisionError","value":"...","traceback":"..."}
//	<- {"id":7,"type":"done"}
//
// plus {"type":"ready"} once at start. Events are wire.ExecutionEvent lines
// with the request's id; their timestamp is in Unix nanoseconds, which
// wire.EventTime reads, and /execute sends it on as E2B's ISO 8601 string.
// Output that bypasses the driver (child processes,
// C extensions writing to fd 1 and 2) is read from the driver's stdout and
// stderr pipes; after "done" the Go side writes a sync marker into both
// pipes and waits for it, so that such output is never attributed to the
// next execution.
package localrt
