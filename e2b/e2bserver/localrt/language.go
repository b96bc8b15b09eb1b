package localrt

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Languages a kernel runs.
const (
	// langPython runs in a persistent python3 interpreter per context.
	langPython = "python"
	// langJavaScript runs in a persistent node vm context per context.
	langJavaScript = "javascript"
	// langBash runs each execution in a fresh bash -c.
	langBash = "bash"
)

// Errors of package localrt.
var (
	// errUnsupportedLanguage is returned (wrapped, together with
	// fs.ErrInvalid, which the e2bserver answers with 400) by
	// normalizeLanguage, startKernel and the Runtime's interpreter when a
	// language has no local kernel (TypeScript, R, Java).
	errUnsupportedLanguage = errors.New("localrt: unsupported language")
	// errKernelClosed is returned by kernel methods called after Close. It
	// wraps fs.ErrNotExist: a closed context is gone.
	errKernelClosed = fmt.Errorf("localrt: kernel closed: %w", fs.ErrNotExist)
)

// normalizeLanguage maps the language names E2B's interpreter accepts to
// langPython, langJavaScript or langBash: "" and "python" (also "python3",
// "py") are Python, "javascript" and "js" JavaScript, "bash" (also "sh") Bash,
// in any case. Anything else, TypeScript included, is an error wrapping
// errUnsupportedLanguage.
func normalizeLanguage(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "python", "python3", "py":
		return langPython, nil
	case "javascript", "js":
		return langJavaScript, nil
	case "bash", "sh":
		return langBash, nil
	case "typescript", "ts":
		return "", fmt.Errorf("%w %q: the local runtime has no TypeScript kernel; use javascript or run on E2B: %w", errUnsupportedLanguage, name, fs.ErrInvalid)
	}
	return "", fmt.Errorf("%w %q (supported: python, javascript, bash): %w", errUnsupportedLanguage, name, fs.ErrInvalid)
}
