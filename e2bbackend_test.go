package tta_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/ttatest"
)

// e2bEnv is the E2B backend: the E2B-compatible server over an in-memory
// network (real HTTP, real error bodies, fake time), reached through package
// e2b's client and NewE2BProvider. Its interpreter answers from the scripts
// given to script, and otherwise prints the literal of each print("...")
// line, as the ttatest fake does.
type e2bEnv struct {
	env *e2btest.Env

	mu      sync.Mutex // protects scripts
	scripts map[string]ttatest.Output
}

func startE2B(t *testing.T, templates ...ttatest.FakeTemplate) seedEnv {
	e := &e2bEnv{scripts: map[string]ttatest.Output{}}
	var tpls []e2bserver.Template
	for _, ft := range templates {
		if ft.ID == "" {
			t.Fatalf("template %q needs an ID for the E2B server", ft.Name)
		}
		tpls = append(tpls, e2bserver.Template{ID: ft.ID, Alias: ft.Name, Faults: e2bserver.SandboxFaults{
			ReadyAfter: ft.ReadyAfter,
			NeverReady: ft.NeverReady,
		}})
	}
	e.env = e2btest.StartInMemory(t,
		e2bserver.WithTemplates(tpls...),
		e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{Exec: e.exec}),
	)
	return e
}

func (e *e2bEnv) provider() tta.Provider { return tta.NewE2BProvider(e.env.Client) }
func (e *e2bEnv) close()                 {} // e2btest's cleanup closes the server and the client's connections

func (e *e2bEnv) script(code string, out ttatest.Output) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts[code] = out
}

// failRuns answers the next n executions with the proxy's 503: the request
// never reached the interpreter.
func (e *e2bEnv) failRuns(n int) {
	e.env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpRun, Times: n, Status: 503})
}

// failKills answers the next n kills with 503.
func (e *e2bEnv) failKills(n int) {
	e.env.Server.Inject(e2bserver.Fault{Op: e2bserver.OpKill, Times: n, Status: 503})
}

func (e *e2bEnv) live() []string {
	var ids []string
	for _, sb := range e.env.Server.Sandboxes() {
		if sb.State == wire.StateRunning {
			ids = append(ids, sb.SandboxID)
		}
	}
	return ids
}

// exec answers an execution from the scripts.
func (e *e2bEnv) exec(ctx context.Context, cell *e2bserver.Cell) error {
	e.mu.Lock()
	out, ok := e.scripts[cell.Code]
	e.mu.Unlock()
	if !ok {
		out = printLiterals(cell.Code)
	}
	reply := e2bserver.Reply{Duration: out.Delay, Stdout: out.Stdout, Stderr: out.Stderr}
	if x := out.Error; x != nil {
		reply.Error = &e2bserver.ExecError{Name: x.Name, Value: x.Value, Traceback: x.Traceback}
	}
	return cell.Play(reply)
}

// printLiterals prints the literal of each line print("text") or
// print('text').
func printLiterals(code string) ttatest.Output {
	var b strings.Builder
	for line := range strings.SplitSeq(code, "\n") {
		inner, ok := strings.CutPrefix(strings.TrimSpace(line), "print(")
		if inner, ok2 := strings.CutSuffix(inner, ")"); ok && ok2 && len(inner) >= 2 &&
			(inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
			b.WriteString(inner[1:len(inner)-1] + "\n")
		}
	}
	return ttatest.Output{Stdout: b.String()}
}
