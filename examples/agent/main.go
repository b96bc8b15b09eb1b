// Command agent runs an agent's plan, a list of tasks such as a language
// model would write (a question, code that answers it in Python or Bash, and
// two independent checks), through a workflow of tta primitives:
//
//	Timeout(                                     bound each task: 30 s
//	  Router(task language -> python | bash)     run the solution in its language
//	  then Parallel(python check, bash check)    verify it two ways at once
//	, 30s)
//
// where every piece of code runs through
//
//	Retry(CodeExecution with a warm pool, 3 attempts)
//
// so a transient infrastructure failure (here a 503 injected into the first
// execution) is retried in a fresh sandbox, while code that raised is not
// retried: WithCodeErrorsAsErrors makes it fail the task. A task in a
// language with no route fails with ErrNoRoute.
//
// Without E2B_API_KEY the sandboxes run on an E2B-compatible server embedded
// in the program (python3 must be on PATH); with it, on E2B's default
// template, without the injected failure.
//
//	go run ./examples/agent
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/local"
)

// task is one step of the agent's plan.
type task struct {
	Question string
	Language string // the language of Solution: "python" or "bash"
	Solution string
	// PythonCheck and BashCheck compute the answer independently.
	PythonCheck, BashCheck string
}

// plan is what the agent was asked to do.
var plan = []task{
	{
		Question:    "How many primes are below 100?",
		Language:    tta.LanguagePython,
		Solution:    "len([n for n in range(2, 100) if all(n % d for d in range(2, n))])",
		PythonCheck: "sieve = [True] * 100\nfor i in range(2, 10):\n    for j in range(i * i, 100, i):\n        sieve[j] = False\nsum(sieve[2:])",
		BashCheck:   "seq 2 99 | factor | awk 'NF == 2' | wc -l",
	},
	{
		Question:    "What is 2 to the power of 20?",
		Language:    tta.LanguageBash,
		Solution:    "echo $((2 ** 20))",
		PythonCheck: "2 ** 20",
		BashCheck:   "awk 'BEGIN { print 2 ^ 20 }'",
	},
	{
		Question: `How many vowels are in "sandbox"?`,
		Language: "ruby",
		Solution: `puts "sandbox".count("aeiou")`,
	},
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// syncWriter serialises writes from the workflow's concurrent branches.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// run answers every task of the plan and writes a trace to w. A task that
// fails is reported and the plan goes on; run fails only when the workflow
// cannot be built.
func run(ctx context.Context, w io.Writer) error {
	out := &syncWriter{w: w}
	backend, err := local.Open()
	if err != nil {
		return err
	}
	defer backend.Close()
	out.printf("backend: %v\n", backend)

	exec, err := tta.NewCodeExecution(tta.WithE2BClient(backend.Client()), tta.WithWarmPool(2), tta.WithCodeErrorsAsErrors())
	if err != nil {
		return err
	}
	defer exec.Close()
	if err := exec.WaitWarm(ctx); err != nil { // warm up before taking work
		return err
	}
	out.printf("warm pool: 2 sandboxes ready\n")

	code := tta.Retry[tta.CodeInput, tta.CodeOutput](exec,
		tta.MaxAttempts(3),
		tta.InitialInterval(200*time.Millisecond),
		tta.OnRetry(func(e tta.RetryEvent) {
			out.printf("  retry: attempt %d failed (%s); trying again in a fresh sandbox\n", e.Attempt, brief(e.Err))
		}),
	)
	// in runs the code that pick chooses from a task, in language, and
	// returns its answer.
	in := func(language string, pick func(task) string) tta.Primitive[task, string] {
		toInput := tta.Func[task, tta.CodeInput](func(_ context.Context, t task) (tta.CodeInput, error) {
			return tta.CodeInput{Language: language, Code: pick(t)}, nil
		})
		return tta.Then(tta.Then(toInput, code), tta.Func[tta.CodeOutput, string](answerOf))
	}
	solution := func(t task) string { return t.Solution }
	solve := tta.Router(func(t task) string { return t.Language }, map[string]tta.Primitive[task, string]{
		tta.LanguagePython: in(tta.LanguagePython, solution),
		tta.LanguageBash:   in(tta.LanguageBash, solution),
	}, nil)
	verify := tta.Parallel(
		in(tta.LanguagePython, func(t task) string { return t.PythonCheck }),
		in(tta.LanguageBash, func(t task) string { return t.BashCheck }),
	)
	agent := tta.Timeout(tta.Func[task, string](func(ctx context.Context, t task) (string, error) {
		answer, err := solve.Execute(ctx, t)
		if err != nil {
			return "", err
		}
		checks, err := verify.Execute(ctx, t)
		if err != nil {
			return "", fmt.Errorf("checking %s: %w", answer, err)
		}
		for i, lang := range []string{"python", "bash"} {
			if checks[i] != answer {
				return "", fmt.Errorf("the %s check says %s, the solution %s", lang, checks[i], answer)
			}
		}
		return answer + " (verified in python and bash)", nil
	}), 30*time.Second)

	if srv := backend.Local(); srv != nil { // a flaky network, once: the first execution gets a 503
		srv.Handler().Inject(e2bserver.Fault{Op: e2bserver.OpRun, Times: 1, Status: 503})
	}
	for i, t := range plan {
		out.printf("task %d [%s]: %s\n", i+1, t.Language, t.Question)
		answer, err := agent.Execute(ctx, t)
		switch {
		case errors.Is(err, tta.ErrNoRoute):
			out.printf("  skipped, no interpreter for it: %v\n", err)
			continue
		case err != nil:
			out.printf("  failed: %v\n", err)
			continue
		}
		out.printf("  answer: %s\n", answer)
	}
	return nil
}

// answerOf returns the value of the code's last expression or, when it has
// none (bash), what it printed.
func answerOf(_ context.Context, out tta.CodeOutput) (string, error) {
	for _, r := range out.Results {
		if r.IsMain {
			return r.Text, nil
		}
	}
	return strings.TrimSpace(out.Stdout), nil
}

// brief describes a transient error in a few words.
func brief(err error) string {
	if apiErr, ok := errors.AsType[*e2b.APIError](err); ok {
		return fmt.Sprintf("HTTP %d from the sandbox", apiErr.StatusCode)
	}
	return err.Error()
}
