package ttaeino_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/flow/agent/react"
	"github.com/cloudwego/eino/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta"
	ttaeino "github.com/tta-dev/tta/adapters/eino"
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

// scriptedModel is an eino ToolCallingChatModel that answers from a script:
// each turn is a function of the conversation so far.
type scriptedModel struct {
	mu     sync.Mutex
	tools  []*schema.ToolInfo
	script func(msgs []*schema.Message) *schema.Message
	seen   [][]*schema.Message // every conversation the model was given
}

func (m *scriptedModel) Generate(_ context.Context, msgs []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, msgs)
	return m.script(msgs), nil
}

func (m *scriptedModel) Stream(ctx context.Context, msgs []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := m.Generate(ctx, msgs, opts...)
	if err != nil {
		return nil, err
	}
	return schema.StreamReaderFromArray([]*schema.Message{msg}), nil
}

func (m *scriptedModel) WithTools(ts []*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tools = ts
	return m, nil
}

// callTool is an assistant message calling one tool.
func callTool(id, name string, args any) *schema.Message {
	raw, _ := json.Marshal(args)
	return schema.AssistantMessage("", []schema.ToolCall{{ID: id, Function: schema.FunctionCall{Name: name, Arguments: string(raw)}}})
}

func TestReActAgentFixesCodeFromTheToolsError(t *testing.T) {
	set := newSet(t)
	m := &scriptedModel{script: func(msgs []*schema.Message) *schema.Message {
		last := msgs[len(msgs)-1]
		switch {
		case last.Role == schema.User:
			return callTool("1", "run_code", map[string]any{"code": "squares = [n * n for n in range(1, 11)]\nsum(squares) / len(square)"})
		case strings.Contains(last.Content, "NameError: name 'square' is not defined"):
			return callTool("2", "run_code", map[string]any{"code": "squares = [n * n for n in range(1, 11)]\nsum(squares) / len(squares)"})
		}
		return schema.AssistantMessage("the mean is "+strings.TrimPrefix(last.Content, "result:\n"), nil)
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	agent, err := react.NewAgent(ctx, &react.AgentConfig{
		ToolCallingModel: m,
		ToolsConfig:      compose.ToolsNodeConfig{Tools: ttaeino.Tools(set)},
	})
	require.NoError(t, err)
	answer, err := agent.Generate(ctx, []*schema.Message{schema.UserMessage("mean of the squares of 1 to 10?")})
	require.NoError(t, err)
	assert.Equal(t, "the mean is 38.5", answer.Content)

	require.Len(t, m.seen, 3, "two tool calls, then the answer")
	var names []string
	for _, info := range m.tools {
		names = append(names, info.Name)
	}
	assert.Contains(t, names, "run_code", "the agent bound the tools to the model")
	first := m.seen[1][len(m.seen[1])-1]
	assert.Equal(t, schema.Tool, first.Role)
	assert.Contains(t, first.Content, "traceback:", "the model read the traceback")
}

func TestReActAgentKeepsStateInASession(t *testing.T) {
	set := newSet(t)
	var session string
	m := &scriptedModel{script: func(msgs []*schema.Message) *schema.Message {
		last := msgs[len(msgs)-1]
		step := 0
		for _, msg := range msgs {
			if msg.Role == schema.Tool {
				step++
			}
		}
		switch step {
		case 0:
			return callTool("1", "session_open", map[string]any{})
		case 1:
			session, _, _ = strings.Cut(strings.TrimPrefix(last.Content, "session_id: "), "\n")
			return callTool("2", "session_run", map[string]any{"session_id": session, "code": "x = 40"})
		case 2:
			return callTool("3", "session_run", map[string]any{"session_id": session, "code": "x + 2"})
		case 3:
			return callTool("4", "session_close", map[string]any{"session_id": session})
		}
		return schema.AssistantMessage(fmt.Sprintf("done: %s", msgs[len(msgs)-3].Content), nil)
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	agent, err := react.NewAgent(ctx, &react.AgentConfig{
		ToolCallingModel: m,
		ToolsConfig:      compose.ToolsNodeConfig{Tools: ttaeino.Tools(set)},
		MaxStep:          20,
	})
	require.NoError(t, err)
	answer, err := agent.Generate(ctx, []*schema.Message{schema.UserMessage("keep x")})
	require.NoError(t, err)
	assert.Equal(t, "done: result:\n42", answer.Content)
	assert.Empty(t, set.Sessions(), "the agent closed its session")
}

func TestInfoCarriesTheSchemaAndBadArgumentsAreText(t *testing.T) {
	exec, err := tta.NewCodeExecution(tta.WithProvider(ttatest.NewFakeProvider()))
	require.NoError(t, err)
	defer exec.Close()
	set, err := tools.NewSet(exec)
	require.NoError(t, err)
	ts := ttaeino.Tools(set)
	require.Len(t, ts, len(set.Tools()))
	info, err := ts[0].Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "run_code", info.Name)
	js, err := info.ToJSONSchema()
	require.NoError(t, err)
	assert.Equal(t, []string{"code"}, js.Required)
	_, ok := js.Properties.Get("timeout")
	assert.True(t, ok)

	run := ttaeino.New(set.Tools()[0])
	out, err := run.InvokableRun(t.Context(), `{"code": 1}`)
	require.NoError(t, err, "bad arguments are for the model to read, not an error that stops the agent")
	assert.Contains(t, out, `argument "code" must be a string`)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = run.InvokableRun(ctx, `{"code": "1"}`)
	assert.ErrorIs(t, err, context.Canceled)
}
