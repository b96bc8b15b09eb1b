package localrt

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Languages a Kernel runs.
const (
	// Python runs in a persistent python3 interpreter per context.
	Python = "python"
	// JavaScript runs in a persistent node vm context per context.
	JavaScript = "javascript"
	// Bash runs each execution in a fresh bash -c.
	Bash = "bash"
)

// Errors of package localrt.
var (
	// ErrUnsupportedLanguage is returned (wrapped, together with
	// fs.ErrInvalid, which the e2bserver answers with 400) by
	// NormalizeLanguage, StartKernel and the Runtime's interpreter when a
	// language has no local kernel (TypeScript, R, Java).
	ErrUnsupportedLanguage = errors.New("localrt: unsupported language")
	// ErrKernelClosed is returned by Kernel methods called after Close. It
	// wraps fs.ErrNotExist: a closed context is gone.
	ErrKernelClosed = fmt.Errorf("localrt: kernel closed: %w", fs.ErrNotExist)
)

// NormalizeLanguage maps the language names E2B's interpreter accepts to
// Python, JavaScript or Bash: "" and "python" (also "python3", "py") are
// Python, "javascript" and "js" JavaScript, "bash" (also "sh") Bash, in any
// case. Anything else, TypeScript included, is an error wrapping
// ErrUnsupportedLanguage.
func NormalizeLanguage(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "python", "python3", "py":
		return Python, nil
	case "javascript", "js":
		return JavaScript, nil
	case "bash", "sh":
		return Bash, nil
	case "typescript", "ts":
		return "", fmt.Errorf("%w %q: the local runtime has no TypeScript kernel; use javascript or run on E2B: %w", ErrUnsupportedLanguage, name, fs.ErrInvalid)
	}
	return "", fmt.Errorf("%w %q (supported: python, javascript, bash): %w", ErrUnsupportedLanguage, name, fs.ErrInvalid)
}
