// Command agent-loop is the loop an AI agent runs around a code tool: the
// model writes code, the program runs it through the run_code tool of
// package tools, the model reads the result, and when the code raised it
// fixes the code and runs it again, until it can answer.
//
// The model here is scripted (no network, no API key): it writes a first
// version with a bug, reads the NameError the tool returns, fixes the name
// and answers from the output. A real model plugs in where scriptedModel is.
//
// With E2B_API_KEY set the code runs on E2B; without it, on an E2B-compatible
// server embedded in the program (python3 must be on PATH).
//
//	go run ./examples/agent-loop
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/local"
	"github.com/tta-dev/tta/tools"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent-loop:", err)
		os.Exit(1)
	}
}

// maxSteps bounds the model's turns, so that a model that never stops
// calling tools cannot loop forever.
const maxSteps = 6

// message is one turn of the conversation.
type message struct {
	role    string // "user", "assistant" or "tool"
	content string
	call    *toolCall // an assistant's request to call a tool, or nil
	isError bool      // a tool result that is an error
}

// toolCall is a model's request to call a tool with JSON arguments.
type toolCall struct {
	name string
	args json.RawMessage
}

// run runs the agent loop on the question and writes the conversation to w.
func run(ctx context.Context, w io.Writer) error {
	backend, err := local.Open()
	if err != nil {
		return err
	}
	defer backend.Close()
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()))
	if err != nil {
		return err
	}
	defer exec.Close()
	set, err := tools.NewSet(exec)
	if err != nil {
		return err
	}
	defer set.Close()
	byName := map[string]tools.Tool{}
	for _, t := range set.Tools() {
		byName[t.Name] = t
	}

	history := []message{{role: "user", content: "What is the mean of the squares of 1 to 10?"}}
	fmt.Fprintf(w, "user: %s\n", history[0].content)
	for range maxSteps {
		reply := scriptedModel(history)
		history = append(history, reply)
		if reply.call == nil {
			fmt.Fprintf(w, "assistant: %s\n", reply.content)
			return nil
		}
		fmt.Fprintf(w, "assistant calls %s:\n%s\n", reply.call.name, indent(codeOf(reply.call.args)))
		t, ok := byName[reply.call.name]
		if !ok {
			return fmt.Errorf("the model called an unknown tool %q", reply.call.name)
		}
		res := t.Call(ctx, reply.call.args, nil)
		history = append(history, message{role: "tool", content: res.Text(), isError: res.IsError})
		label := "tool result"
		if res.IsError {
			label = "tool error"
		}
		fmt.Fprintf(w, "%s:\n%s\n", label, indent(res.Text()))
	}
	return fmt.Errorf("no answer after %d steps", maxSteps)
}

// scriptedModel stands in for a language model. It writes code with a
// mistake, reads the tool's answer, corrects the name the error names, and
// answers from the result once the code ran.
func scriptedModel(history []message) message {
	last := history[len(history)-1]
	switch {
	case last.role == "user":
		return callRunCode("squares = [n * n for n in range(1, 11)]\nsum(squares) / len(square)")
	case last.isError && strings.Contains(last.content, "NameError: name 'square' is not defined"):
		return callRunCode("squares = [n * n for n in range(1, 11)]\nsum(squares) / len(squares)")
	case last.isError:
		return message{role: "assistant", content: "I could not compute it: " + firstLine(last.content)}
	}
	result := last.content[strings.LastIndex(last.content, "result:\n")+len("result:\n"):]
	return message{role: "assistant", content: "The mean of the squares of 1 to 10 is " + strings.TrimSpace(result) + "."}
}

// callRunCode is an assistant turn calling run_code with code.
func callRunCode(code string) message {
	args, _ := json.Marshal(map[string]string{"code": code})
	return message{role: "assistant", call: &toolCall{name: "run_code", args: args}}
}

// codeOf returns the code argument of a call's arguments.
func codeOf(args json.RawMessage) string {
	var a struct{ Code string }
	_ = json.Unmarshal(args, &a)
	return a.Code
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }
