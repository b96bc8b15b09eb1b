package ttalangchaingo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	lctools "github.com/tmc/langchaingo/tools"

	"github.com/tta-dev/tta/tools"
)

// Tools returns the tools of set as langchaingo tools, in the set's order.
func Tools(set *tools.Set) []lctools.Tool {
	ts := set.Tools()
	out := make([]lctools.Tool, 0, len(ts))
	for _, t := range ts {
		out = append(out, New(t))
	}
	return out
}

// New returns t as a langchaingo tool. Its Name is t.Name; its Description
// is t.Description followed by how to write the input and t's input schema
// (compacted to one line), or t.Description alone when t has no schema.
func New(t tools.Tool) lctools.Tool {
	return tool{t: t, description: describe(t)}
}

// tool is a tools.Tool as a langchaingo tools.Tool.
type tool struct {
	t           tools.Tool
	description string // t.Description with the input's schema
}

// describe returns t's description followed by the schema of its input.
func describe(t tools.Tool) string {
	schema := bytes.TrimSpace(t.InputSchema)
	if len(schema) == 0 {
		return t.Description
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, schema); err == nil {
		schema = compact.Bytes()
	}
	return fmt.Sprintf("%s\nInput: a JSON object of the arguments, with this JSON schema: %s", t.Description, schema)
}

// Name returns the tta tool's name, such as "run_code".
func (l tool) Name() string { return l.t.Name }

// Description returns the tta tool's description and the JSON schema of its
// input; see New.
func (l tool) Description() string { return l.description }

// Call calls the tool with input, the model's JSON object of arguments, and
// returns the result's text; see the package documentation.
func (l tool) Call(ctx context.Context, input string) (string, error) {
	res := l.t.Call(ctx, json.RawMessage(input), nil)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("ttalangchaingo: %s: %w", l.t.Name, context.Cause(ctx))
	}
	return res.Text(), nil
}
