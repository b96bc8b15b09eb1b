// Package localrt runs E2B-compatible sandboxes as local processes: it is the
// Runtime behind e2bserver.Server when code runs on this machine, with no
// account and no network.
//
// A sandbox is a private directory plus processes. Its code interpreter runs
// Kernels: a persistent python3 interpreter or node vm context per execution
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
// # Isolation
//
// This is process isolation, not a virtual machine: production untrusted code
// belongs on E2B. Where the kernel permits (probed once, never required; see
// Runtime.Isolation), every sandbox process runs in new user, mount, pid and
// ipc namespaces, and a network namespace with only loopback unless the
// sandbox allows internet access; it sees its sandbox's home at /home/user,
// a private /tmp, the rest of the host read-only and only its own processes.
// Without namespaces (containers that forbid them, WithoutIsolation),
// processes run on the host in their own process groups with the sandbox's
// home as working directory and $HOME (absolute /home/user paths in code do
// not reach it) and full network access. Resource limits (Limits) apply
// either way; every process group of a sandbox is killed when it closes.
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
