package localrt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tta-dev/tta/e2b/e2bserver"
)

// TemplateConfig is how the local runtime builds sandboxes of one template:
// setup commands run in every new sandbox before its code interpreter opens,
// and environment variables. It pairs with the e2bserver.Template the Server
// resolves (see Template).
type TemplateConfig struct {
	// Name is the template's alias, such as "tta-ml-minimal". Name or ID is
	// required; a sandbox's template matches a config by either.
	Name string `json:"name"`
	// ID is the template's identifier. Template derives one from Name when
	// empty.
	ID string `json:"id,omitempty"`
	// Setup are bash command lines run one after the other in the sandbox's
	// home, as the template's start command: while they run, the
	// interpreter port (49999) is closed, as E2B reports for a template whose
	// interpreter starts late; when one fails (non-zero exit), the port stays
	// closed for good. Their output goes to /tmp/tta-setup.log in the sandbox.
	Setup []string `json:"setup,omitempty"`
	// EnvVars are set for every execution and process of the template's
	// sandboxes, below the create request's own.
	EnvVars map[string]string `json:"env,omitempty"`
	// NoInterpreter makes a template without a code interpreter, as E2B's
	// "base": port 49999 is never open.
	NoInterpreter bool `json:"no_interpreter,omitempty"`
}

// Template returns the e2bserver.Template to register with the Server
// (e2bserver.WithTemplates) for c. A missing ID is derived from Name
// ("local-" followed by the name).
func (c TemplateConfig) Template() e2bserver.Template {
	id := c.ID
	if id == "" {
		id = "local-" + c.Name
	}
	return e2bserver.Template{ID: id, Alias: c.Name, NoInterpreter: c.NoInterpreter}
}

// matches reports whether c configures t.
func (c TemplateConfig) matches(t e2bserver.Template) bool {
	tt := c.Template()
	return (c.ID != "" && c.ID == t.ID) || tt.ID == t.ID || (c.Name != "" && c.Name == t.Alias)
}

// templatesFile is the JSON document ParseTemplates reads.
type templatesFile struct {
	Templates []TemplateConfig `json:"templates"`
}

// ParseTemplates reads template configurations from JSON:
//
//	{"templates": [
//	  {"name": "tta-ml-minimal", "setup": ["pip install torch"], "env": {"K": "V"}}
//	]}
//
// Unknown fields are an error, as are templates with neither name nor ID and
// duplicate names or IDs.
func ParseTemplates(data []byte) ([]TemplateConfig, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f templatesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("localrt: templates: %w", err)
	}
	seen := make(map[string]bool)
	for i, t := range f.Templates {
		if strings.TrimSpace(t.Name) == "" && strings.TrimSpace(t.ID) == "" {
			return nil, fmt.Errorf("localrt: templates: template %d has neither name nor id", i+1)
		}
		keys := []string{t.Template().ID}
		if t.Name != "" && t.Name != keys[0] {
			keys = append(keys, t.Name)
		}
		for _, key := range keys {
			if seen[key] {
				return nil, fmt.Errorf("localrt: templates: %q is defined twice", key)
			}
			seen[key] = true
		}
	}
	return f.Templates, nil
}
