package local

import "github.com/tta-dev/tta/e2b/e2bserver/localrt"

// Template is a template of the local server (WithTemplates): how its
// sandboxes are built.
//
//   - Name is the template's name, such as "tta-ml-minimal", and ID its
//     identifier ("local-" and the name when empty); one of them is required,
//     and a sandbox is created from the template by either.
//   - Setup are bash command lines run one after the other in every new
//     sandbox, before its code interpreter opens its port: while they run the
//     interpreter answers "port is not open", as E2B does for a template whose
//     interpreter starts late, and when one fails it never opens.
//   - EnvVars are set for every execution and command of its sandboxes, under
//     the create request's own.
//   - NoInterpreter makes a template without a code interpreter, as E2B's
//     "base".
//
// It is a plain value, the sandbox runtime's own type under this package's
// name, so that configuring a template needs no other import.
type Template = localrt.TemplateConfig

// ParseTemplates reads templates from JSON, the format of tta serve
// --templates:
//
//	{"templates": [
//	  {"name": "tta-ml-minimal", "setup": ["pip install torch"], "env": {"K": "V"}}
//	]}
//
// Unknown fields are an error, as are templates with neither name nor id and
// names or IDs given twice.
func ParseTemplates(data []byte) ([]Template, error) {
	return localrt.ParseTemplates(data)
}
