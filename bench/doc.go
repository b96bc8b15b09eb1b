// Package bench measures the cost of tta's primitives against the libraries a
// Go program would otherwise use for the same job: github.com/failsafe-go/failsafe-go,
// github.com/cenkalti/backoff/v4, golang.org/x/sync/errgroup and the standard
// library's context.WithTimeout.
//
// The package holds no code of its own: the benchmarks and the allocation
// checks live in its test files, and cmd/benchtable turns `go test -bench`
// output into the ratio table of README.md. It is a separate module so that
// the comparison libraries never become dependencies of tta.
package bench
