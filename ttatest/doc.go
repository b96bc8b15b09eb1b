// Package ttatest provides an in-memory sandbox provider for testing code that
// uses tta.CodeExecutionPrimitive and tta.Session, without network or keys.
//
// A FakeProvider implements tta.Provider. It knows the default template and
// any FakeTemplate you register (by ID and by name), each of which can be slow
// to create, open its interpreter port late, or never open it, the way a heavy
// custom E2B template fails. Code runs against a script: outputs per exact
// code (Script), a function for the rest (Handle), and a tiny default that
// prints the literal of each print("...") line. Faults fail the nth call of
// an operation (Fault). Every sandbox is recorded with its probes, runs,
// commands, files and kill, so a test can assert that nothing leaked
// (AssertNoLeaks).
//
// The fake reads the clock with time.Now and waits with timers, so tests run
// it in fake time with testing/synctest: a template whose interpreter starts
// after 90 s is tested in milliseconds.
package ttatest
