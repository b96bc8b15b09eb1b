// Command agent runs an agent as a Temporal workflow on two workers: a
// language model writes Python for a task, a sandbox runs it, the model
// writes it again from a prompt that carries the error when the code
// raised, and the model summarises the result.
//
//	model worker    task queue tta-agent-model    the workflow; activities generate and summarise
//	sandbox worker  task queue tta-agent-sandbox  activity run-code: a tta.CodeExecutionPrimitive
//
// Each activity is a tta primitive registered with ttatemporal.Register; its
// Retry and Timeout become the activity's retry policy and timeouts. The
// model here is a stand-in that answers the task with a bug first, as models
// do, so that the retry with the fixed prompt shows; put a real model call
// in its place.
//
//	go run ./examples/agent
//
// starts a Temporal dev server on loopback (the Temporal CLI: scripts/test.sh
// builds it into ~/.cache/tta, or set TTA_TEMPORAL_CLI), both workers and the
// workflow, and prints the workflow's transcript. With -address the program
// uses a running Temporal server instead, and with -worker model or -worker
// sandbox it runs only that worker, until interrupted, so that the two
// workers can run on different machines:
//
//	go run ./examples/agent -address 127.0.0.1:7233 -worker sandbox &
//	go run ./examples/agent -address 127.0.0.1:7233 -worker model &
//	go run ./examples/agent -address 127.0.0.1:7233 -worker none   # start the workflow, print its result
//
// Sandboxes are local (python3 must be on PATH) unless E2B_API_KEY is set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/local"
	ttatemporal "github.com/tta-dev/tta/temporal"
)

// Task queues of the two workers.
const (
	modelQueue   = "tta-agent-model"
	sandboxQueue = "tta-agent-sandbox"
)

// task is what the agent is asked to do.
const task = "the mean of the primes below 30"

// Prompt is what the model is asked: the task and, on a retry, the code
// that failed and its error.
type Prompt struct {
	Task     string
	Previous string
	Error    string
}

// Report is what the model summarises.
type Report struct {
	Task     string
	Code     string
	Result   string
	Attempts int
}

// Answer is the workflow's result.
type Answer struct {
	Summary    string
	Transcript []string
}

// generate stands in for a language model writing code: its first answer
// has a typo; given the error, it fixes it.
func generate(ctx context.Context, p Prompt) (string, error) {
	code := "primes = [n for n in range(2, 30) if all(n % d for d in range(2, n))]\n"
	if p.Error == "" {
		return code + "round(sum(primes) / len(prime), 2)", nil
	}
	return code + "round(sum(primes) / len(primes), 2)", nil
}

// summarise stands in for a language model summarising the result.
func summarise(ctx context.Context, r Report) (string, error) {
	tries := "first try"
	if r.Attempts > 1 {
		tries = fmt.Sprintf("%d tries", r.Attempts)
	}
	return fmt.Sprintf("%s is %s (Python, in a sandbox, %s).", strings.ToUpper(r.Task[:1])+r.Task[1:], r.Result, tries), nil
}

// activities are the agent's steps. Both workers build them the same way;
// each registers its own, and the workflow runs them all.
type activities struct {
	generate  *ttatemporal.Activity[Prompt, string]
	summarise *ttatemporal.Activity[Report, string]
	runCode   *ttatemporal.Activity[tta.CodeInput, tta.CodeOutput]
}

// newActivities builds the activities; code is nil where no sandbox
// worker runs (the activity is then only called, never run, here).
func newActivities(code tta.Primitive[tta.CodeInput, tta.CodeOutput], killer func(context.Context, string) error) (*activities, error) {
	model := func(opts ...tta.RetryOption) []tta.RetryOption {
		return append([]tta.RetryOption{tta.MaxAttempts(3), tta.InitialInterval(time.Second)}, opts...)
	}
	gen, err := ttatemporal.NewActivity("generate", tta.Retry(tta.Timeout(tta.Func[Prompt, string](generate), 30*time.Second), model()...),
		ttatemporal.WithTaskQueue(modelQueue))
	if err != nil {
		return nil, err
	}
	sum, err := ttatemporal.NewActivity("summarise", tta.Retry(tta.Timeout(tta.Func[Report, string](summarise), 30*time.Second), model()...),
		ttatemporal.WithTaskQueue(modelQueue))
	if err != nil {
		return nil, err
	}
	if code == nil {
		code = tta.Func[tta.CodeInput, tta.CodeOutput](func(context.Context, tta.CodeInput) (tta.CodeOutput, error) {
			return tta.CodeOutput{}, errors.New("agent: run-code runs on the sandbox worker only")
		})
	}
	opts := []ttatemporal.Option{ttatemporal.WithTaskQueue(sandboxQueue), ttatemporal.WithHeartbeatTimeout(10 * time.Second)}
	if killer != nil {
		opts = append(opts, ttatemporal.WithSandboxKiller(killer))
	}
	run, err := ttatemporal.NewActivity("run-code", tta.Timeout(code, 2*time.Minute), opts...)
	if err != nil {
		return nil, err
	}
	return &activities{generate: gen, summarise: sum, runCode: run}, nil
}

// workflow is the agent: generate, run, on a raised error generate again
// from a prompt that carries it and run again, then summarise.
func (a *activities) workflow(ctx workflow.Context, task string) (Answer, error) {
	var ans Answer
	say := func(format string, args ...any) {
		ans.Transcript = append(ans.Transcript, fmt.Sprintf(format, args...))
	}
	prompt := Prompt{Task: task}
	for attempt := 1; ; attempt++ {
		code, err := a.generate.Execute(ctx, prompt)
		if err != nil {
			return ans, err
		}
		say("attempt %d: the model wrote %d lines of Python", attempt, strings.Count(code, "\n")+1)
		out, err := a.runCode.Execute(ctx, tta.CodeInput{Code: code})
		if err != nil {
			return ans, err // could not run it (ttatemporal.MayHaveRunError included): not the model's fault
		}
		if out.Error != nil && attempt < 2 {
			say("attempt %d: the code raised %s: %s; asking again with the error in the prompt", attempt, out.Error.Name, out.Error.Value)
			prompt = Prompt{Task: task, Previous: code, Error: out.Error.Name + ": " + out.Error.Value}
			continue
		}
		if out.Error != nil {
			return ans, fmt.Errorf("agent: the code still raised %s: %s", out.Error.Name, out.Error.Value)
		}
		result := strings.TrimSpace(out.Stdout)
		for _, r := range out.Results {
			if r.IsMain {
				result = r.Text
			}
		}
		say("attempt %d: the code returned %s", attempt, result)
		ans.Summary, err = a.summarise.Execute(ctx, Report{Task: task, Code: code, Result: result, Attempts: attempt})
		return ans, err
	}
}

func main() {
	address := flag.String("address", "", "host:port of a Temporal server; empty starts a dev server with the Temporal CLI")
	role := flag.String("worker", "both", "which workers to run: both (then run the workflow and exit), model, sandbox (until interrupted), or none (only run the workflow)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *address, *role); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// run runs the workers role names against the Temporal server at address
// (a dev server of its own when empty) and, for both and none, the
// workflow, whose transcript it prints to w.
func run(ctx context.Context, w io.Writer, address, role string) error {
	switch role {
	case "both", "model", "sandbox", "none":
	default:
		return fmt.Errorf("-worker must be both, model, sandbox or none, got %q", role)
	}
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if address == "" {
		cli, err := temporalCLI()
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
			ExistingPath:  cli,
			ClientOptions: &client.Options{HostPort: "127.0.0.1:" + port, Logger: logger},
			LogLevel:      "error",
			Stdout:        io.Discard,
			Stderr:        io.Discard,
		})
		if err != nil {
			return fmt.Errorf("starting a Temporal dev server with %s: %w", cli, err)
		}
		defer dev.Stop()
		defer dev.Client().Close()
		address = dev.FrontendHostPort()
		fmt.Fprintf(w, "temporal: dev server on %s\n", address)
	}
	c, err := client.Dial(client.Options{HostPort: address, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()

	var code tta.Primitive[tta.CodeInput, tta.CodeOutput]
	var killer func(context.Context, string) error
	if role == "both" || role == "sandbox" {
		backend, err := local.Open()
		if err != nil {
			return err
		}
		defer backend.Close()
		fmt.Fprintf(w, "sandboxes: %v\n", backend)
		exec, err := tta.NewCodeExecution(tta.WithProvider(ttatemporal.HeartbeatProvider(tta.NewE2BProvider(backend.Client()))))
		if err != nil {
			return err
		}
		defer exec.Close()
		code, killer = exec, ttatemporal.E2BKiller(backend.Client())
	}
	acts, err := newActivities(code, killer)
	if err != nil {
		return err
	}
	if role == "both" || role == "model" {
		mw := worker.New(c, modelQueue, worker.Options{})
		mw.RegisterWorkflowWithOptions(acts.workflow, workflow.RegisterOptions{Name: "agent"})
		acts.generate.Register(mw)
		acts.summarise.Register(mw)
		if err := mw.Start(); err != nil {
			return err
		}
		defer mw.Stop()
		fmt.Fprintf(w, "worker: model, task queue %s\n", modelQueue)
	}
	if role == "both" || role == "sandbox" {
		sw := worker.New(c, sandboxQueue, worker.Options{})
		acts.runCode.Register(sw)
		if err := sw.Start(); err != nil {
			return err
		}
		defer sw.Stop()
		fmt.Fprintf(w, "worker: sandbox, task queue %s\n", sandboxQueue)
	}
	if role == "model" || role == "sandbox" {
		<-ctx.Done()
		return nil
	}

	wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: fmt.Sprintf("agent-%d", time.Now().UnixNano()), TaskQueue: modelQueue, WorkflowExecutionTimeout: 5 * time.Minute,
	}, "agent", task)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "workflow %s: %s\n", wr.GetID(), task)
	var ans Answer
	if err := wr.Get(ctx, &ans); err != nil {
		return err
	}
	for _, line := range ans.Transcript {
		fmt.Fprintln(w, "  "+line)
	}
	fmt.Fprintln(w, "summary: "+ans.Summary)
	return nil
}

// temporalCLI returns the Temporal CLI to run a dev server with:
// $TTA_TEMPORAL_CLI, the one scripts/test.sh builds, or temporal on PATH.
func temporalCLI() (string, error) {
	if p := os.Getenv("TTA_TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "tta", "temporal-cli-v1.5.1", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", errors.New("the Temporal CLI is not installed: build it with `GOBIN=$HOME/.cache/tta/temporal-cli-v1.5.1 go install github.com/temporalio/cli/cmd/temporal@v1.5.1` (about 2.5 minutes, once), or give -address of a running Temporal server")
}

// freePort returns a port free on 127.0.0.1, for the dev server.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}
