// Package ttaeino gives cloudwego/eino agents tta's code execution tools:
// each tool of package tools as an eino tool.InvokableTool, for a ReAct
// agent's or a ToolsNode's ToolsConfig.
//
//	set, err := tools.NewSet(exec) // exec from tta.NewCodeExecution
//	if err != nil { ... }
//	defer set.Close()
//	agent, err := react.NewAgent(ctx, &react.AgentConfig{
//		ToolCallingModel: chatModel,
//		ToolsConfig:      compose.ToolsNodeConfig{Tools: ttaeino.Tools(set)},
//	})
//
// A tool returns the text of its tools.Result (Result.Text): the code's
// output, its error with the traceback, or what was wrong with the
// arguments, for the model to read. It returns a Go error, which stops the
// agent, only when the call's context has ended.
//
// This package is a module of its own, so that tta's root module does not
// depend on eino.
package ttaeino
