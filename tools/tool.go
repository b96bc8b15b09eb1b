package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// Tool is one tool an agent can call. It is a plain value: copies share the
// handler, which is safe for concurrent use.
type Tool struct {
	// Name is the tool's name, such as "run_code".
	Name string
	// Description says what the tool does, for the model choosing it.
	Description string
	// InputSchema is the JSON Schema (draft 2020-12) of the arguments: an
	// object whose properties are the arguments.
	InputSchema json.RawMessage

	call func(ctx context.Context, args json.RawMessage, progress Progress) Result
}

// Progress receives a short message while a call is under way: while its
// sandbox starts and as its output streams. It may be called from another
// goroutine than Call's, never concurrently with itself, and never after Call
// returns.
type Progress func(message string)

// Call runs the tool with args, a JSON object of the arguments (empty or
// "null" means none). progress may be nil. Call honours ctx: when it is
// cancelled the call stops and the sandbox it made is killed. Call never
// returns a Go error: bad arguments and failures are Results whose IsError
// is set (see the package documentation). A zero Tool returns such a Result.
func (t Tool) Call(ctx context.Context, args json.RawMessage, progress Progress) Result {
	if t.call == nil {
		return errorResult("this tool has no handler; take tools from Set.Tools")
	}
	if progress == nil {
		progress = func(string) {}
	}
	return t.call(ctx, args, progress)
}

// newTool returns a tool whose arguments are the JSON form of In, a struct:
// fields without omitempty are required, a field's jsonschema tag is its
// description. It panics if In has no JSON schema (a programming error).
func newTool[In any](name, description string, handle func(ctx context.Context, in In, progress Progress) Result) Tool {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tools: schema of %s: %v", name, err))
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("tools: schema of %s: %v", name, err))
	}
	required := schema.Required
	return Tool{
		Name:        name,
		Description: description,
		InputSchema: raw,
		call: func(ctx context.Context, args json.RawMessage, progress Progress) Result {
			var in In
			if err := decodeArgs(args, &in, required); err != nil {
				return errorResult(fmt.Sprintf("%s: %v", name, err))
			}
			return handle(ctx, in, progress)
		},
	}
}

// decodeArgs decodes the JSON object args into in, strictly: unknown fields,
// wrong types and missing required fields are errors that name the argument.
func decodeArgs(args json.RawMessage, in any, required []string) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		args = []byte("{}")
	}
	if args[0] != '{' {
		return errors.New("the arguments must be a JSON object of named arguments; see the tool's input schema")
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(args, &present); err != nil {
		return fmt.Errorf("the arguments are not valid JSON: %v", err)
	}
	for _, name := range required {
		if v, ok := present[name]; !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return fmt.Errorf("argument %q is required; see the tool's input schema", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("argument %q must be %s, not a JSON %s", te.Field, jsonKind(te.Type), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fmt.Errorf("unknown argument %s; the arguments are %s", strings.TrimPrefix(err.Error(), "json: unknown field "), argNames(in))
		}
		return fmt.Errorf("the arguments are not valid: %v", err)
	}
	return nil
}

// jsonKind names the JSON form of t for messages.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "of type " + t.String()
}

// argNames lists the JSON names of the fields of the struct in points to.
func argNames(in any) string {
	t := reflect.TypeOf(in).Elem()
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, fmt.Sprintf("%q", name))
		}
	}
	return strings.Join(names, ", ")
}
