// Package ttalangchaingo gives tmc/langchaingo agents tta's code execution
// tools: each tool of package tools as a langchaingo tools.Tool, for an
// agent such as agents.NewOpenAIFunctionsAgent or agents.NewOneShotAgent run
// by an agents.Executor.
//
//	set, err := tools.NewSet(exec) // exec from tta.NewCodeExecution
//	if err != nil { ... }
//	defer set.Close()
//	agent := agents.NewOpenAIFunctionsAgent(llm, ttalangchaingo.Tools(set))
//	executor := agents.NewExecutor(agent, agents.WithMaxIterations(10))
//	answer, err := chains.Run(ctx, executor, "mean of the squares of 1 to 10?")
//
// The executor's default of 5 iterations counts the model's turns: a session
// (session_open, two session_run, session_close, then the answer) takes all
// five when the model calls one tool a turn, so give an agent that uses
// sessions more.
//
// langchaingo's tools.Tool takes one string and has no schema of its
// arguments, so a tool's Description is the tta tool's description followed
// by the JSON schema of its arguments, and its input is a JSON object of
// those arguments, as the model writes it (an OpenAI functions agent hands
// the tool the string the model put in "__arg1", or the model's whole
// arguments when it wrote them as an object of their own).
//
// A tool returns the text of its tools.Result (Result.Text): the code's
// output, its error with the traceback, or what was wrong with the
// arguments, for the model to read as the observation. It returns a Go
// error, which stops the agent's executor, only when the call's context has
// ended.
//
// This package is a module of its own, so that tta's root module does not
// depend on langchaingo.
package ttalangchaingo
