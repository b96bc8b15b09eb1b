package ttalangchaingo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"

	"github.com/tta-dev/tta"
	ttalangchaingo "github.com/tta-dev/tta/adapters/langchaingo"
	"github.com/tta-dev/tta/local"
	"github.com/tta-dev/tta/tools"
	"github.com/tta-dev/tta/ttatest"
)

// newSet returns tools over a local sandbox server of the test's own; when
// the test ends no sandbox may be left on it.
func newSet(t *testing.T) *tools.Set {
	t.Helper()
	srv, err := local.Start(local.WithRoot(t.TempDir()))
	require.NoError(t, err)
	client, err := srv.Client()
	require.NoError(t, err)
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(client))
	require.NoError(t, err)
	set, err := tools.NewSet(exec)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, set.Close())
		assert.NoError(t, exec.Close())
		assert.Empty(t, srv.Handler().Sandboxes(), "sandboxes left running")
		_, err := srv.Close()
		assert.NoError(t, err)
	})
	return set
}

// scriptedModel is a langchaingo llms.Model that answers from a script:
// each turn is a function of the messages it was given.
type scriptedModel struct {
	mu        sync.Mutex
	script    func(msgs []llms.MessageContent) llms.ContentChoice
	seen      [][]llms.MessageContent   // every conversation the model was given
	functions []llms.FunctionDefinition // the functions of the last call
}

func (m *scriptedModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, msgs)
	m.functions = opts.Functions
	choice := m.script(msgs)
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{&choice}}, nil
}

func (m *scriptedModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// observations returns the tool results in msgs, in order: what the model
// was shown of the tools' calls.
func observations(msgs []llms.MessageContent) []string {
	var out []string
	for _, msg := range msgs {
		for _, part := range msg.Parts {
			if r, ok := part.(llms.ToolCallResponse); ok {
				out = append(out, r.Content)
			}
		}
	}
	return out
}

// callTool is a choice calling one tool the way the OpenAI functions agent
// declares its functions: the arguments as a JSON string in "__arg1".
func callTool(id, name string, args any) llms.ContentChoice {
	raw, _ := json.Marshal(args)
	wrapped, _ := json.Marshal(map[string]string{"__arg1": string(raw)})
	return callToolRaw(id, name, string(wrapped))
}

// callToolRaw is a choice calling one tool with arguments as written.
func callToolRaw(id, name, arguments string) llms.ContentChoice {
	return llms.ContentChoice{ToolCalls: []llms.ToolCall{{
		ID: id, Type: "function", FunctionCall: &llms.FunctionCall{Name: name, Arguments: arguments},
	}}}
}

// answer is a choice with the final answer.
func answer(text string) llms.ContentChoice { return llms.ContentChoice{Content: text} }

// runAgent runs an OpenAI functions agent over set's tools with m and
// returns its answer to input.
func runAgent(t *testing.T, set *tools.Set, m llms.Model, input string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	agent := agents.NewOpenAIFunctionsAgent(m, ttalangchaingo.Tools(set))
	return chains.Run(ctx, agents.NewExecutor(agent, agents.WithMaxIterations(10)), input)
}

func TestAgentFixesCodeFromTheToolsError(t *testing.T) {
	set := newSet(t)
	m := &scriptedModel{script: func(msgs []llms.MessageContent) llms.ContentChoice {
		obs := observations(msgs)
		switch {
		case len(obs) == 0:
			return callTool("1", "run_code", map[string]any{"code": "squares = [n * n for n in range(1, 11)]\nsum(squares) / len(square)"})
		case len(obs) == 1 && strings.Contains(obs[0], "NameError: name 'square' is not defined"):
			return callTool("2", "run_code", map[string]any{"code": "squares = [n * n for n in range(1, 11)]\nsum(squares) / len(squares)"})
		}
		return answer("the mean is " + strings.TrimPrefix(obs[len(obs)-1], "result:\n"))
	}}
	got, err := runAgent(t, set, m, "mean of the squares of 1 to 10?")
	require.NoError(t, err)
	assert.Equal(t, "the mean is 38.5", got)

	require.Len(t, m.seen, 3, "two tool calls, then the answer")
	first := observations(m.seen[1])
	require.Len(t, first, 1)
	assert.Contains(t, first[0], "NameError: name 'square' is not defined", "the model read the code's error")
	assert.Contains(t, first[0], "traceback:", "the model read the traceback")
	assert.Equal(t, []string{first[0], "result:\n38.5"}, observations(m.seen[2]), "the model read the fixed result")

	var runCode *llms.FunctionDefinition
	for i, f := range m.functions {
		if f.Name == "run_code" {
			runCode = &m.functions[i]
		}
	}
	require.NotNil(t, runCode, "the agent declared the tools to the model")
	assert.Contains(t, runCode.Description, `"required":["code"]`, "the description carries the arguments' schema")
}

func TestAgentKeepsStateInASession(t *testing.T) {
	set := newSet(t)
	var session string
	m := &scriptedModel{script: func(msgs []llms.MessageContent) llms.ContentChoice {
		obs := observations(msgs)
		// This model writes the arguments as an object of their own, as the
		// schema in the tools' descriptions says, not in "__arg1".
		switch len(obs) {
		case 0:
			return callToolRaw("1", "session_open", `{}`)
		case 1:
			session, _, _ = strings.Cut(strings.TrimPrefix(obs[0], "session_id: "), "\n")
			return callToolRaw("2", "session_run", fmt.Sprintf(`{"session_id": %q, "code": "x = 40"}`, session))
		case 2:
			return callToolRaw("3", "session_run", fmt.Sprintf(`{"session_id": %q, "code": "x + 2"}`, session))
		case 3:
			return callToolRaw("4", "session_close", fmt.Sprintf(`{"session_id": %q}`, session))
		}
		return answer("done: " + obs[2])
	}}
	got, err := runAgent(t, set, m, "keep x")
	require.NoError(t, err)
	assert.Equal(t, "done: result:\n42", got)

	require.Len(t, m.seen, 5, "four tool calls, then the answer")
	obs := observations(m.seen[4])
	require.Len(t, obs, 4)
	assert.True(t, strings.HasPrefix(obs[0], "session_id: "), "session_open's observation: %q", obs[0])
	assert.NotEmpty(t, session)
	assert.Equal(t, "result:\n42", obs[2], "x kept its value between the two calls")
	assert.Contains(t, obs[3], "session "+session+" closed")
	assert.Empty(t, set.Sessions(), "the agent closed its session")
}

func TestAgentReadsBadArgumentsAsObservations(t *testing.T) {
	set := newSet(t)
	m := &scriptedModel{script: func(msgs []llms.MessageContent) llms.ContentChoice {
		switch obs := observations(msgs); len(obs) {
		case 0:
			return callTool("1", "run_code", map[string]any{"code": 1})
		case 1:
			// The code itself in "__arg1", not a JSON object of arguments.
			return callToolRaw("2", "run_code", `{"__arg1": "print(1)"}`)
		case 2:
			return callTool("3", "session_run", map[string]any{"session_id": "nope", "code": "1"})
		}
		return answer("I could not run it")
	}}
	got, err := runAgent(t, set, m, "run something")
	require.NoError(t, err, "bad arguments are for the model to read, not an error that stops the agent")
	assert.Equal(t, "I could not run it", got)

	require.Len(t, m.seen, 4)
	obs := observations(m.seen[3])
	require.Len(t, obs, 3)
	assert.Contains(t, obs[0], `argument "code" must be a string`)
	assert.Contains(t, obs[1], "must be a JSON object of named arguments")
	assert.Contains(t, obs[2], "nope")
}

func TestOneShotAgentReadsTheSchemaAndTheObservation(t *testing.T) {
	set := newSet(t)
	var prompts []string
	m := &scriptedModel{script: func(msgs []llms.MessageContent) llms.ContentChoice {
		var prompt string // the one-shot agent sends one text message
		if len(msgs) == 1 && len(msgs[0].Parts) == 1 {
			if text, ok := msgs[0].Parts[0].(llms.TextContent); ok {
				prompt = text.Text
			}
		}
		prompts = append(prompts, prompt)
		// The scratchpad, after the question: the steps so far.
		_, scratchpad, _ := strings.Cut(prompt, "Question: what is 6 times 7?")
		if _, obs, ok := strings.Cut(scratchpad, "\nObservation: "); ok {
			return answer("Thought: I now know the final answer\nFinal Answer: " + strings.TrimPrefix(strings.TrimSpace(obs), "stdout:\n"))
		}
		return answer("Thought: run it\nAction: run_code\nAction Input: {\"code\": \"print(6 * 7)\"}")
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	agent := agents.NewOneShotAgent(m, ttalangchaingo.Tools(set))
	got, err := chains.Run(ctx, agents.NewExecutor(agent), "what is 6 times 7?")
	require.NoError(t, err)
	assert.Equal(t, "42", got)

	require.Len(t, prompts, 2)
	assert.Contains(t, prompts[0], `- run_code: Run code in a fresh sandbox`, "the tools are listed in the prompt")
	assert.Contains(t, prompts[0], `"required":["code"]`, "the prompt carries the arguments' schema unescaped")
	assert.Contains(t, prompts[1], "Action Input: {\"code\": \"print(6 * 7)\"}\nObservation: stdout:\n42\n", "the model read the code's output")
}

func TestToolDescribesItsInputAndEndsOnlyWithItsContext(t *testing.T) {
	exec, err := tta.NewCodeExecution(tta.WithProvider(ttatest.NewFakeProvider()))
	require.NoError(t, err)
	defer exec.Close()
	set, err := tools.NewSet(exec)
	require.NoError(t, err)
	ts := ttalangchaingo.Tools(set)
	require.Len(t, ts, len(set.Tools()))
	for i, tt := range set.Tools() {
		assert.Equal(t, tt.Name, ts[i].Name(), "the set's order")
		desc := ts[i].Description()
		require.True(t, strings.HasPrefix(desc, tt.Description+"\n"), "the tool's own description first: %q", desc)
		_, schema, ok := strings.Cut(desc, "JSON schema: ")
		require.True(t, ok, "the schema follows: %q", desc)
		var s struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		}
		require.NoError(t, json.Unmarshal([]byte(schema), &s), "the schema is JSON")
		assert.Equal(t, "object", s.Type)
	}

	run := ttalangchaingo.New(set.Tools()[0])
	out, err := run.Call(t.Context(), `{"timeout": 1}`)
	require.NoError(t, err)
	assert.Contains(t, out, `argument "code" is required`)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = run.Call(ctx, `{"code": "1"}`)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "run_code")

	zero := ttalangchaingo.New(tools.Tool{Name: "nothing", Description: "does nothing"})
	assert.Equal(t, "does nothing", zero.Description(), "no schema, nothing appended")
	out, err = zero.Call(t.Context(), `{}`)
	require.NoError(t, err)
	assert.Contains(t, out, "no handler")
}
