// Package tools describes tta's code execution as tools an AI agent calls:
// a name, a description, a JSON schema of the arguments and a handler that
// takes the arguments as JSON and returns a Result made for a model to read.
// The tta mcp server and the adapters for agent frameworks all serve these
// same tools, so none of them rewrites the glue.
//
//	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()))
//	if err != nil { ... }
//	set, err := tools.NewSet(exec)
//	if err != nil { ... }
//	defer set.Close() // kills the sandbox of every open session
//	for _, t := range set.Tools() {
//		// register t.Name, t.Description, t.InputSchema with the framework;
//		// on a call: res := t.Call(ctx, argsJSON, nil)
//	}
//
// The tools of a Set:
//
//   - run_code: code in a fresh sandbox, killed after the call (stateless).
//   - session_open, session_run, session_close: one sandbox and interpreter
//     per session ID, so variables and files persist between calls. A
//     session left unused for the idle timeout (WithIdleTimeout) is closed
//     and its sandbox killed; Set.Close closes them all.
//   - files_write, files_read, files_list: files inside a session's sandbox.
//   - run_command: a shell command, in a session's sandbox or a fresh one.
//
// # Results and errors
//
// Call never returns a Go error and never panics on its arguments. Every
// outcome is a Result: the code's output (stdout, stderr, the value of the
// last expression, rich results: PNG and JPEG as images, HTML, markdown and
// the rest as text); the code's own error (name, value, traceback) as a
// Result whose IsError is set; and bad arguments (wrong types, unknown
// fields, code over the size limit, an unknown session) or a sandbox that
// could not run the code as a Result whose IsError is set and whose text says
// what was wrong and what to do.
//
// # Sandboxes
//
// Every sandbox a tool creates is killed on every path: after a run_code or
// a run_command without session, when the call is cancelled, when a session
// is closed or idles out, and on Set.Close. The CodeExecutionPrimitive the
// Set runs on remains the caller's: Close it after the Set.
package tools
