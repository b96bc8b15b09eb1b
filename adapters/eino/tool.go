package ttaeino

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/schema"
	"github.com/eino-contrib/jsonschema"

	"github.com/tta-dev/tta/tools"
)

// Tools returns the tools of set as eino tools, in the set's order.
func Tools(set *tools.Set) []tool.BaseTool {
	ts := set.Tools()
	out := make([]tool.BaseTool, 0, len(ts))
	for _, t := range ts {
		out = append(out, New(t))
	}
	return out
}

// New returns t as an eino tool. Its Info fails if t's input schema is not
// a JSON Schema object, which never happens for the tools of a tools.Set.
func New(t tools.Tool) tool.InvokableTool { return invokable{t: t} }

// invokable is a tools.Tool as an eino InvokableTool.
type invokable struct{ t tools.Tool }

// Info describes the tool with its JSON schema.
func (i invokable) Info(context.Context) (*schema.ToolInfo, error) {
	var s jsonschema.Schema
	if err := json.Unmarshal(i.t.InputSchema, &s); err != nil {
		return nil, fmt.Errorf("ttaeino: input schema of %s: %w", i.t.Name, err)
	}
	return &schema.ToolInfo{Name: i.t.Name, Desc: i.t.Description, ParamsOneOf: schema.NewParamsOneOfByJSONSchema(&s)}, nil
}

// InvokableRun calls the tool with the model's arguments and returns the
// result's text; see the package documentation.
func (i invokable) InvokableRun(ctx context.Context, argumentsInJSON string, _ ...tool.Option) (string, error) {
	res := i.t.Call(ctx, json.RawMessage(argumentsInJSON), nil)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("ttaeino: %s: %w", i.t.Name, context.Cause(ctx))
	}
	return res.Text(), nil
}
