package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
)

// The interpreter probe schedule, as the library waits for a sandbox:
// exponential backoff from 0.5 s, doubling, at most 5 s between probes.
const (
	probeInitialInterval = 500 * time.Millisecond
	probeMaxInterval     = 5 * time.Second
)

// Bounds of the doctor's other steps.
const (
	envdWindow      = 10 * time.Second // envd answers as soon as a sandbox exists
	testRunTimeout  = time.Minute
	killTimeout     = 15 * time.Second
	sandboxLifetime = 2 * time.Minute // beyond the init window: the backstop if a kill is lost
)

// metadataDoctor labels the sandboxes tta doctor creates, each with a value
// unique to its create request, so that one made by a request that broke off
// can still be found and killed.
const metadataDoctor = "tta.doctor"

// setupLog is where the local runtime writes the output of a template's setup
// commands.
const setupLog = "/tmp/tta-setup.log"

func doctorUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: tta doctor [--timeout D] [--templates FILE] TEMPLATE

Checks that sandboxes of TEMPLATE (a name such as code-interpreter-v1, or an
ID) start and run code, as tta's CodeExecutionPrimitive needs them to: it
creates a sandbox, checks envd, waits for the code interpreter to open port
%d, probing its /health with backoff from 0.5 s doubling to 5 s for the
template's init window (%s for %s, %s for any other template,
as the library waits), runs print("ok"), and kills the sandbox on every path,
Ctrl-C included.

The report goes to standard output; a live progress line is drawn on standard
error when it is a terminal. Uses E2B when E2B_API_KEY is set, otherwise an
embedded local sandbox server, where the templates are code-interpreter-v1,
base (no code interpreter, as on E2B) and those of --templates.

Exit status: 0 when the template is healthy; 1 when it is not (the reason and
a hint are printed on standard error); 2 for usage errors and infrastructure
failures; 130 when interrupted.

Flags:
	--timeout D        how long to wait for the code interpreter (default: the template's init window)
	--templates FILE   custom templates of the embedded local server (see tta serve --help)
`, e2b.InterpreterPort, tta.DefaultInitWindow, tta.DefaultTemplateName, tta.CustomInitWindow)
}

func doctorCommand(ctx context.Context, c *cli, args []string) int {
	const name = "tta doctor"
	fs := newFlagSet("doctor")
	timeout := fs.Duration("timeout", 0, "")
	templatesFile := fs.String("templates", "", "")
	pos, err := parse(c, fs, doctorUsage, args)
	if err != nil {
		return exitCodeOf(err)
	}
	if len(pos) != 1 || pos[0] == "" {
		usageError(c, name, "expected one TEMPLATE, such as %s, got %d arguments", tta.DefaultTemplateName, len(pos))
		return exitUsage
	}
	if *timeout < 0 {
		usageError(c, name, "--timeout must be >= 0, got %v", *timeout)
		return exitUsage
	}
	tpl := tta.Template{Name: pos[0]}
	window := *timeout
	if window == 0 {
		window = tpl.InitWindow()
	}

	b, err := openBackend(c, name, "diagnosing", *templatesFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer b.Close()
	d := &doctor{c: c, client: b.Client(), local: b.Local() != nil, where: where(b), template: tpl.Ref(), window: window}
	if l := b.Local(); l != nil {
		d.isolation = l.Isolation()
	}
	return d.run(ctx)
}

// doctor is one diagnosis of a template.
type doctor struct {
	c      *cli
	client *e2b.Client
	local  bool // the embedded local server, rather than E2B
	// isolation is how the embedded local server confines sandboxes ("" on
	// E2B, whose sandboxes are virtual machines).
	isolation string
	where     string // names the backend in the report
	template  string
	window    time.Duration
}

// finding is the outcome of the checks: healthy, or why not.
type finding struct {
	healthy bool
	exit    int    // exitOK, exitFailed, exitUsage or exitInterrupted
	reason  string // one line: why the template is not healthy
	hint    string // one line: what to do
	summary string // one line when healthy
}

// row prints one line of the report.
func (d *doctor) row(step, status, detail string) {
	fmt.Fprintf(d.c.stdout, "%-12s %-7s %s\n", step, status, detail)
}

// note prints a plain progress line on stderr where no live line is drawn.
func (d *doctor) note(format string, a ...any) {
	if !d.c.tty {
		fmt.Fprintf(d.c.stderr, "tta doctor: "+format+"\n", a...)
	}
}

func (d *doctor) run(ctx context.Context) int {
	d.row("template", "", fmt.Sprintf("%s on %s (interpreter wait %v)", d.template, d.where, d.window))

	start := time.Now()
	p := startProgress(d.c.stderr, d.c.tty, func() string {
		return fmt.Sprintf("creating a sandbox of %s… %s", d.template, seconds(time.Since(start)))
	})
	label := randomHex(12)
	sbx, err := d.client.Create(ctx, e2b.CreateOptions{
		Template: d.template,
		Timeout:  d.window + sandboxLifetime,
		Metadata: e2b.Ownership{Owner: tta.DefaultOwner, Purpose: "doctor"}.Metadata(map[string]string{metadataDoctor: label}),
	})
	p.Stop()
	var f finding
	if err != nil {
		d.row("create", "failed", err.Error())
		var answered *e2b.APIError
		if !errors.As(err, &answered) {
			// The request may have created a sandbox before it broke off.
			d.killLabelled(ctx, label)
		}
		f = d.createFailed(ctx, err)
	} else {
		d.row("create", "ok", fmt.Sprintf("%s, sandbox %s (envd %s)", seconds(time.Since(start)), sbx.ID(), sbx.EnvdVersion()))
		f = func() finding {
			defer d.kill(ctx, sbx)
			return d.checkSandbox(ctx, sbx)
		}()
	}
	switch {
	case f.healthy:
		fmt.Fprintf(d.c.stdout, "healthy: %s\n", f.summary)
	case f.exit == exitInterrupted:
		fmt.Fprintln(d.c.stderr, "tta doctor: interrupted")
	default:
		fmt.Fprintf(d.c.stderr, "tta doctor: %s\n", f.reason)
		if f.hint != "" {
			fmt.Fprintf(d.c.stderr, "hint: %s\n", f.hint)
		}
	}
	return f.exit
}

// isolationProbe runs in a local sandbox: it prints the user's uid, then
// what of the host it can read.
const isolationProbe = `id -u; for f in /etc/shadow /root/.bashrc /proc/1/root/etc/shadow; do [ -r "$f" ] && echo "reads $f"; done; true`

// checkIsolation reports how the embedded local server confines sandboxes,
// and checks it from inside sbx: its code runs as uid 1000 and reads none
// of the host's secrets. A weak isolation is a warning, not a failure of
// the template.
func (d *doctor) checkIsolation(ctx context.Context, sbx *e2b.Sandbox) {
	res, err := sbx.RunCommand(ctx, isolationProbe, e2b.CommandOptions{})
	switch {
	case err != nil:
		d.row("isolation", "unknown", fmt.Sprintf("%s; the check inside the sandbox failed: %v", d.isolation, err))
	case strings.TrimSpace(res.Stdout) == strconv.Itoa(1000) && strings.HasPrefix(d.isolation, "confined"):
		d.row("isolation", "ok", d.isolation)
	default:
		d.row("isolation", "weak", d.isolation)
		fmt.Fprintf(d.c.stderr, "tta doctor: warning: sandbox code is not confined: inside, %s\n", strings.ReplaceAll(strings.TrimSpace(res.Stdout), "\n", ", "))
	}
}

// createFailed explains a failed create.
func (d *doctor) createFailed(ctx context.Context, err error) finding {
	switch {
	case ctx.Err() != nil:
		return finding{exit: exitInterrupted}
	case errors.Is(err, e2b.ErrUnauthorized):
		return finding{exit: exitUsage, reason: "the API key was refused: " + err.Error(),
			hint: "check E2B_API_KEY (keys are at https://e2b.dev/dashboard?tab=keys)"}
	case errors.Is(err, e2b.ErrNotFound) || statusOf(err) == 400:
		hint := "check the template's name or ID (e2b template list)"
		if d.local {
			hint = "the embedded server knows code-interpreter-v1, base and the templates of --templates FILE"
		}
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: it cannot be created: %v", d.template, err), hint: hint}
	}
	return finding{exit: exitUsage, reason: "creating a sandbox failed: " + err.Error(), hint: infraHint(err)}
}

// checkSandbox checks envd, the interpreter and a test run.
func (d *doctor) checkSandbox(ctx context.Context, sbx *e2b.Sandbox) finding {
	interrupted := finding{exit: exitInterrupted}

	envd := probeUntil(ctx, envdWindow, sbx.EnvdHealth, nil)
	switch {
	case ctx.Err() != nil:
		return interrupted
	case !envd.ok:
		d.row("envd", "down", fmt.Sprintf("no answer after %s, %d %s: %v", seconds(envd.elapsed), envd.probes, plural(envd.probes, "probe", "probes"), envd.last))
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: envd (port %d) does not answer: %v", d.template, e2b.EnvdPort, envd.last),
			hint: "the sandbox itself did not start properly: rebuild the template, or report it to the sandbox provider"}
	}
	d.row("envd", "ok", seconds(envd.elapsed))
	if d.isolation != "" {
		d.checkIsolation(ctx, sbx)
	}

	var probes atomic.Int64
	start := time.Now()
	d.note("waiting up to %v for the code interpreter to open port %d", d.window, e2b.InterpreterPort)
	p := startProgress(d.c.stderr, d.c.tty, func() string {
		n := probes.Load()
		return fmt.Sprintf("waiting for the code interpreter on port %d: %d %s, %s of %v",
			e2b.InterpreterPort, n, plural(int(n), "probe", "probes"), seconds(time.Since(start)), d.window)
	})
	interp := probeUntil(ctx, d.window, func(ctx context.Context) error {
		probes.Add(1)
		return sbx.InterpreterHealth(ctx)
	}, func(n int, elapsed time.Duration, err error) {
		d.note("probe %d at %s: %s", n, seconds(elapsed), shortError(err))
	})
	p.Stop()
	if ctx.Err() != nil {
		return interrupted
	}
	if !interp.ok {
		return d.interpreterClosed(ctx, sbx, interp)
	}
	d.row("interpreter", "open", fmt.Sprintf("port %d after %s, %d %s", e2b.InterpreterPort, seconds(interp.elapsed), interp.probes, plural(interp.probes, "probe", "probes")))

	start = time.Now()
	p = startProgress(d.c.stderr, d.c.tty, func() string {
		return fmt.Sprintf("running print(\"ok\")… %s", seconds(time.Since(start)))
	})
	exec, err := sbx.RunCode(ctx, `print("ok")`, e2b.RunCodeOptions{Timeout: testRunTimeout})
	p.Stop()
	took := time.Since(start)
	switch {
	case ctx.Err() != nil:
		return interrupted
	case err != nil:
		d.row("test run", "failed", err.Error())
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: its code interpreter opened but print(\"ok\") failed: %v", d.template, err),
			hint: "the interpreter answers /health but cannot execute: check the template's kernel (python3) and its logs"}
	case exec.Error != nil:
		d.row("test run", "raised", exec.Error.Name+": "+exec.Error.Value)
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: print(\"ok\") raised %s: %s", d.template, exec.Error.Name, exec.Error.Value),
			hint: "the template's Python kernel is broken: check its start command and installed packages"}
	}
	got := strings.Join(exec.Logs.Stdout, "")
	if got != "ok\n" {
		d.row("test run", "wrong", fmt.Sprintf("print(\"ok\") printed %q", got))
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: print(\"ok\") printed %q", d.template, got),
			hint: "the template's default language may not be Python"}
	}
	d.row("test run", "ok", fmt.Sprintf("print(\"ok\") printed ok in %s", seconds(took)))
	return finding{healthy: true, exit: exitOK,
		summary: fmt.Sprintf("template %s is ready to run code (interpreter open after %s, first run %s)", d.template, seconds(interp.elapsed), seconds(took))}
}

// interpreterClosed reports an interpreter that never opened its port.
func (d *doctor) interpreterClosed(ctx context.Context, sbx *e2b.Sandbox, o probeOutcome) finding {
	probes := fmt.Sprintf("%d %s", o.probes, plural(o.probes, "probe", "probes"))
	if !errors.Is(o.last, e2b.ErrPortNotOpen) {
		d.row("interpreter", "failed", fmt.Sprintf("after %s, %s: %v", seconds(o.elapsed), probes, o.last))
		return finding{exit: exitFailed, reason: fmt.Sprintf("template %s is not healthy: probing its code interpreter failed: %v", d.template, o.last),
			hint: infraHint(o.last)}
	}
	d.row("interpreter", "closed", fmt.Sprintf("port %d not open after %s, %s (wait %v)", e2b.InterpreterPort, seconds(o.elapsed), probes, d.window))
	if d.local {
		d.showSetupLog(ctx, sbx)
	}
	logs := "its build logs"
	if d.local {
		logs = setupLog + " in the sandbox"
	}
	f := finding{exit: exitFailed,
		reason: fmt.Sprintf("template %s is not healthy: its code interpreter never opened port %d (%s in %s)", d.template, e2b.InterpreterPort, probes, seconds(o.elapsed)),
		hint: "check the template's start command, which must start the code interpreter (see " + logs + "), " +
			"or run on the default template and install packages at run time (tta.WithPackages, the runtime install fallback); " +
			"if it is only slow, a longer --timeout shows when it opens",
	}
	if d.template == e2b.BaseTemplate || d.template == e2bserver.BaseTemplateID {
		f.hint = "base has no code interpreter, by design: use " + tta.DefaultTemplateName + " or a template built from it"
	}
	return f
}

// showSetupLog prints the last lines of the local runtime's setup log, if any.
func (d *doctor) showSetupLog(ctx context.Context, sbx *e2b.Sandbox) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	data, err := sbx.ReadFile(rctx, setupLog)
	if err != nil || len(data) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	for i, line := range lines {
		step := ""
		if i == 0 {
			step = "setup log"
		}
		d.row(step, "", line)
	}
}

// kill kills the sandbox, even when ctx is done, and reports it.
func (d *doctor) kill(ctx context.Context, sbx *e2b.Sandbox) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	killed, err := sbx.Kill(kctx)
	switch {
	case err != nil:
		d.row("kill", "failed", err.Error())
		fmt.Fprintf(d.c.stderr, "tta doctor: warning: sandbox %s may run until its timeout (%v): %v\n", sbx.ID(), d.window+sandboxLifetime, err)
	case !killed:
		d.row("kill", "gone", "sandbox "+sbx.ID()+" had already ended")
	default:
		d.row("kill", "ok", "sandbox "+sbx.ID()+" killed")
	}
}

// killLabelled kills the sandboxes whose metadataDoctor label is label: those
// a create that broke off may have made.
func (d *doctor) killLabelled(ctx context.Context, label string) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	page, err := d.client.List(kctx, e2b.ListOptions{Metadata: map[string]string{metadataDoctor: label}})
	if err != nil {
		return
	}
	for _, info := range page.Sandboxes {
		if killed, err := d.client.Kill(kctx, info.ID); err == nil && killed {
			d.row("kill", "ok", "sandbox "+info.ID+" (created by the interrupted request) killed")
		}
	}
}

// probeOutcome is the result of probeUntil.
type probeOutcome struct {
	ok      bool
	probes  int
	elapsed time.Duration // from the first probe to the last answer
	last    error         // the last probe's error when !ok
}

// probeUntil calls check until it succeeds, it fails with an error that is not
// transient, ctx ends, or the next probe would come after window: backoff
// from probeInitialInterval doubling to probeMaxInterval, no jitter. onFail,
// when not nil, is called after each failed probe.
func probeUntil(ctx context.Context, window time.Duration, check func(context.Context) error, onFail func(n int, elapsed time.Duration, err error)) probeOutcome {
	start := time.Now()
	deadline := start.Add(window)
	delay := probeInitialInterval
	var o probeOutcome
	for {
		o.probes++
		pctx, cancel := context.WithDeadline(ctx, deadline)
		err := check(pctx)
		cancel()
		o.elapsed = time.Since(start)
		if err == nil {
			o.ok, o.last = true, nil
			return o
		}
		o.last = err
		if ctx.Err() != nil {
			return o
		}
		if onFail != nil {
			onFail(o.probes, o.elapsed, err)
		}
		if !tta.IsTransient(err) && time.Now().Before(deadline) {
			return o
		}
		if time.Now().Add(delay).After(deadline) {
			return o
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return o
		case <-t.C:
		}
		delay = min(2*delay, probeMaxInterval)
	}
}

// statusOf returns the HTTP status of an *e2b.APIError in err's chain, or 0.
func statusOf(err error) int {
	var apiErr *e2b.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// shortError names an error briefly for progress lines.
func shortError(err error) string {
	switch {
	case errors.Is(err, e2b.ErrPortNotOpen):
		return fmt.Sprintf("port %d not open", e2b.InterpreterPort)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	return err.Error()
}

// infraHint suggests what to check after an infrastructure failure.
func infraHint(err error) string {
	switch {
	case errors.Is(err, e2b.ErrUnauthorized):
		return "check E2B_API_KEY (keys are at https://e2b.dev/dashboard?tab=keys)"
	case errors.Is(err, e2b.ErrSandboxNotFound):
		return "the sandbox ended early: it was killed elsewhere or its timeout passed"
	case statusOf(err) == 429:
		return "E2B is rate limiting this key: wait, or lower the number of concurrent sandboxes"
	case statusOf(err) >= 500:
		return "the sandbox provider failed; try again, and check https://status.e2b.dev"
	}
	var te *e2b.TransportError
	if errors.As(err, &te) {
		return "the sandbox provider could not be reached: check the network, and E2B_DOMAIN, E2B_API_URL and E2B_SANDBOX_URL if set"
	}
	return "try again; if it persists, run tta doctor on the template"
}
