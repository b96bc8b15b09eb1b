// Package ttatest provides an in-memory sandbox provider for testing code that
// uses tta.CodeExecutionPrimitive and tta.Session, without network or keys.
//
// A FakeProvider implements tta.Provider. It knows the default template and
// any FakeTemplate you register (by ID and by name), each of which can be slow
// to create, become ready only after a while (ReadyAfter), or never
// (NeverReady), the way a heavy custom E2B template fails. Code runs against
// a script: outputs per exact code (Script), a function for the rest
// (Handle), and a tiny default that prints the literal of each print("...")
// line. Faults fail the Nth call of an operation, or every call (Fault).
// Operations, readiness and faults are named as in package e2bserver's fault
// injection, so a test moves from one to the other without learning new
// words. Every sandbox is recorded with its probes, runs, commands, files and
// kill, so a test can assert that nothing leaked (AssertNoLeaks).
//
// Configuration that cannot be right (a template with neither ID nor name)
// panics at once, naming the method; everything a sandbox is asked at run
// time is answered with an error.
//
// The fake reads the clock with time.Now and waits with timers, so tests run
// it in fake time with testing/synctest: a template whose interpreter starts
// after 90 s is tested in milliseconds.
package ttatest
