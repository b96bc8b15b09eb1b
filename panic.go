package tta

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the error a recovered panic becomes. Parallel returns it when a
// branch panics, so that one faulty branch fails the call instead of crashing
// the program from a goroutine the caller cannot reach; Saga wraps it when a
// compensation panics, so that the remaining compensations still run.
//
// Error reports the panic value only; the stack is in Stack. Unwrap returns
// Value when it is an error (panic(err) stays visible to errors.Is and
// errors.As), and nil otherwise.
//
// A PanicError is not modified after it is returned and is safe to read from
// multiple goroutines.
type PanicError struct {
	// Value is the value passed to panic. A panic(nil) is recovered as a
	// *runtime.PanicNilError, as the runtime reports it.
	Value any
	// Stack is the stack of the panicking goroutine, captured while the panic
	// was being recovered, in the format of runtime/debug.Stack. It includes
	// the function that panicked.
	Stack []byte
}

// newPanicError captures the current stack. Call it from the deferred function
// that recovered v, so the panicking frames are still on the stack.
func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns "tta: panic: " followed by the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("tta: panic: %v", e.Value)
}

// Unwrap returns Value if it is an error, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
