// Package local gives a program an E2B client without an E2B account: Start
// runs an E2B-compatible server (package e2bserver) inside the program, on a
// loopback socket, whose sandboxes are processes of this machine (package
// localrt); Open chooses between that server and E2B itself.
//
//	b, err := local.Open()          // E2B when E2B_API_KEY is set, else a local server
//	if err != nil { ... }
//	defer b.Close()                 // on the local server: kills every sandbox
//	exec, err := tta.NewCodeExecution(tta.WithE2BClient(b.Client()))
//
// The client speaks the same HTTP protocol to both, so code that runs locally
// runs unchanged on E2B. tta run, tta doctor and tta serve are built on this
// package.
//
// # Options
//
// Start and Open take Options named With..., applied in order. An option
// given a bad value, and a nil Option, make Start or Open return an error
// that says which, leaving nothing running. Neither panics.
//
// # Security
//
// A local server binds 127.0.0.1 on a free port unless WithAddr names another
// address, and accepts only its API key ("e2b_" and 40 random hexadecimal
// digits unless WithAPIKey gives one): a request without it is refused with
// 401. The key is never logged or printed by this package, nor by the errors
// it returns. Whoever reaches the server with the key runs code as the user
// running the program.
//
// Sandboxes are process isolation, not virtual machines: where the kernel
// allows, each sandbox's processes run in their own user, mount, pid, ipc and
// network namespaces (see Server.Isolation); elsewhere only in their own
// process groups. Production untrusted code belongs on E2B.
package local
