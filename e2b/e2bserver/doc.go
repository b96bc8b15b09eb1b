// Package e2bserver is an E2B-compatible server for tests and local use: one
// http.Handler that speaks E2B's control plane and, behind a single URL, the
// envd daemon and code interpreter of every sandbox it creates. E2B's official
// SDKs and package e2b talk to it unchanged when pointed at it
// (E2B_API_URL and E2B_SANDBOX_URL, or e2b.WithAPIURL and e2b.WithSandboxURL).
//
// # Options
//
// New takes Options named With..., applied in order. Each is checked when New
// applies it: an option given a bad value, and a nil Option, make New return an
// error that says which. New never panics.
//
// # Routing
//
// A request carrying E2b-Sandbox-Id and E2b-Sandbox-Port headers, or whose Host
// is <port>-<sandboxID>.<domain>, is sandbox traffic; everything else is the
// control plane:
//
//	POST   /sandboxes, /v2/sandboxes              create (201)
//	GET    /sandboxes/{id}                        info
//	GET    /sandboxes, /v2/sandboxes              list (metadata, state, limit, nextToken)
//	DELETE /sandboxes/{id}                        kill (204; 404 when gone)
//	POST   /sandboxes/{id}/timeout                set the time to live
//	POST   /sandboxes/{id}/connect, /v2/...       extend, or resume a paused one
//	POST   /sandboxes/{id}/pause, /resume         pause (409 when paused), resume
//
// Control-plane calls need X-API-Key (401 otherwise). Sandbox traffic goes to
// envd on port 49983 (GET /health, GET/POST /files, the Connect services
// process.Process and filesystem.Filesystem in JSON and binary codecs; server
// streams are never compressed; a process outlives the stream that started it
// and process.Process/Connect attaches to it again) or to the interpreter on port 49999 (GET
// /health, POST /execute streaming NDJSON with keepalives every 5 s,
// /contexts).
//
// A sandbox created through /v2/sandboxes (always secured, as in E2B, whose
// SDKs no longer send "secure") or through /sandboxes with secure: true gets an
// envdAccessToken, which envd then requires in X-Access-Token. The interpreter
// does not check it, as in E2B: the SDKs send it on /execute but not on
// /contexts.
//
// Error bodies and status codes are E2B's. Every control-plane error, 404
// included, is JSON {"code","message"}: the SDKs read the code from the body
// (kill reports "already gone" only for "code":404). The proxy answers 502
// {"sandboxId","message":"The sandbox was not found","code":502} for a sandbox
// that is gone and 502 {..., "message":"The sandbox is running but port is not
// open","port":49999,...} for a port nobody listens on.
//
// # Runtimes
//
// What runs inside a sandbox is a Runtime's business: the Server starts one
// Instance per sandbox and calls it for executions, files and processes.
// ScriptedRuntime answers from scripts and keeps files in memory; a runtime
// running real processes in a private directory plugs in the same way.
//
// # Faults
//
// The failures E2B integrations meet in practice can be injected: a Fault makes
// the calls of an Op (OpCreate, OpRun, OpProbe, ...) answer 429 with
// Retry-After, 5xx, slowly, or drop the connection: the Nth call alone, Times
// calls from the Nth on, or every call until cleared; SandboxFaults keep a template's or a sandbox's
// interpreter port closed for a while (ReadyAfter) or forever (NeverReady),
// cut /execute streams mid-way, or expire the sandbox mid-execution.
// Server.Expire ends a sandbox's life at once. The vocabulary (Op names,
// ReadyAfter, NeverReady, Nth) is the one package ttatest uses for its fake
// provider.
//
// # Time
//
// The Server reads time.Now and arms time.AfterFunc timers, and never keeps a
// goroutine that is not durably blocked, so under testing/synctest (created
// inside the bubble and reached through InMemoryClient) sandbox timeouts,
// delays and keepalives run in fake time.
package e2bserver
