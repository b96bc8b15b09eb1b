package ttalangchaingo_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"

	"github.com/tta-dev/tta"
	ttalangchaingo "github.com/tta-dev/tta/adapters/langchaingo"
	"github.com/tta-dev/tta/tools"
	"github.com/tta-dev/tta/ttatest"
)

// exampleModel stands in for a chat model such as langchaingo's openai.LLM:
// it calls run_code once, then answers with what the tool returned.
type exampleModel struct{}

func (exampleModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	for _, msg := range msgs {
		for _, part := range msg.Parts {
			if r, ok := part.(llms.ToolCallResponse); ok {
				return &llms.ContentResponse{Choices: []*llms.ContentChoice{{
					Content: "6 * 7 is " + strings.TrimPrefix(r.Content, "result:\n"),
				}}}, nil
			}
		}
	}
	call := llms.ToolCall{ID: "1", Type: "function", FunctionCall: &llms.FunctionCall{
		Name: "run_code", Arguments: `{"__arg1": "{\"code\": \"6 * 7\"}"}`,
	}}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{ToolCalls: []llms.ToolCall{call}}}}, nil
}

func (m exampleModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// An OpenAI functions agent runs code with tta's tools: the model calls
// run_code with a JSON object of arguments and reads the result.
func ExampleTools() {
	// The fake provider stands in for E2B or the local server (see package
	// local) so that the example needs no sandbox.
	fake := ttatest.NewFakeProvider()
	fake.Script("6 * 7", ttatest.Output{Results: []tta.Result{{IsMain: true, Text: "42"}}})
	exec, err := tta.NewCodeExecution(tta.WithProvider(fake))
	if err != nil {
		panic(err)
	}
	defer exec.Close()
	set, err := tools.NewSet(exec)
	if err != nil {
		panic(err)
	}
	defer set.Close()

	agent := agents.NewOpenAIFunctionsAgent(exampleModel{}, ttalangchaingo.Tools(set))
	answer, err := chains.Run(context.Background(), agents.NewExecutor(agent), "what is 6 times 7?")
	if err != nil {
		panic(err)
	}
	fmt.Println(answer)
	// Output: 6 * 7 is 42
}
