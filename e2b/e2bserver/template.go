package e2bserver

import (
	"strings"

	"github.com/tta-dev/tta/e2b"
)

// Template is a sandbox template the Server knows. A create request names it by
// ID or by Alias; the answer carries both. It is a plain value: the Server
// keeps its own copy.
type Template struct {
	// ID is the template's identifier, such as "nlhz8vlwyupq845jsdg9". Required.
	ID string
	// Alias is the template's name, such as "code-interpreter-v1". Optional.
	Alias string
	// NoInterpreter marks a template without a code interpreter (E2B's "base"):
	// port 49999 is never open in its sandboxes.
	NoInterpreter bool
	// Faults are injected into every sandbox created from the template (see
	// SandboxFaults). Server.SetTemplateFaults changes them for later sandboxes.
	Faults SandboxFaults
}

// IDs of the default templates. They are this server's own identifiers; their
// aliases are E2B's well-known template names.
const (
	// CodeInterpreterTemplateID is the ID of the template aliased
	// e2b.DefaultTemplate: envd plus the code interpreter.
	CodeInterpreterTemplateID = "nlhz8vlwyupq845jsdg9"
	// BaseTemplateID is the ID of the template aliased e2b.BaseTemplate: envd
	// only, no code interpreter.
	BaseTemplateID = "rki5dems9wqfm4r03t7g"
)

// DefaultTemplates returns the templates every Server knows unless replaced:
// e2b.DefaultTemplate ("code-interpreter-v1", with an interpreter) and
// e2b.BaseTemplate ("base", envd only).
func DefaultTemplates() []Template {
	return []Template{
		{ID: CodeInterpreterTemplateID, Alias: e2b.DefaultTemplate},
		{ID: BaseTemplateID, Alias: e2b.BaseTemplate, NoInterpreter: true},
	}
}

// matches reports whether ref names t: its ID or its alias, optionally
// followed by a ":tag" suffix as E2B accepts ("code-interpreter-v1:default").
func (t Template) matches(ref string) bool {
	if ref == "" {
		return false
	}
	if name, _, ok := strings.Cut(ref, ":"); ok {
		ref = name
	}
	return ref == t.ID || (t.Alias != "" && ref == t.Alias)
}
