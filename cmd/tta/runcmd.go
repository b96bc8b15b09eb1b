package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/tta-dev/tta/internal/ansi"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
)

func runUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: tta run [--template T] [--lang L] [--timeout D] [--env K=V]... [--init-window D] [--templates FILE] [-v] FILE|-

Runs the code in FILE (or standard input, for -) in a fresh sandbox through
tta's CodeExecutionPrimitive, which waits for the template's code interpreter,
runs the code and kills the sandbox. The code's output is streamed to standard
output and standard error as it is produced; then the results (the value of
the last expression, displayed objects) are printed: as text, and as
"[image/png result, N bytes]" for binary ones.

Uses E2B when E2B_API_KEY is set (E2B_DOMAIN, E2B_API_URL and E2B_SANDBOX_URL
are honoured, so the variables printed by tta serve work too), otherwise an
embedded local sandbox server on the loopback interface, which it says on
standard error.

Exit status: 0 when the code ran to the end; 1 when it raised (the traceback
is printed on standard error) or ran longer than --timeout; 2 for usage errors
and infrastructure failures (a one-line reason and a hint on standard error);
130 when interrupted.

Flags:
	--template T       template name or ID (default code-interpreter-v1)
	--lang L           python, javascript, typescript, bash, r or java
	                   (default: from FILE's extension, else python)
	--timeout D        bound on the code's run time, such as 30s (default: none)
	--env K=V          environment variable for the code; repeatable
	--init-window D    how long to wait for the template's code interpreter (default 60s
	                   for code-interpreter-v1, 120s for other templates)
	--templates FILE   custom templates of the embedded local server (see tta serve --help)
	-v                 print the sandbox, its startup time and the run time on standard error
`)
}

// envFlag collects repeated --env K=V flags.
type envFlag map[string]string

func (e envFlag) String() string { return "" }

func (e envFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want K=V, got %q", v)
	}
	e[k] = val
	return nil
}

// languageOf infers a language from a file name's extension; "" when unknown.
func languageOf(file string) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".py":
		return tta.LanguagePython
	case ".js", ".mjs", ".cjs":
		return tta.LanguageJavaScript
	case ".ts":
		return tta.LanguageTypeScript
	case ".sh", ".bash":
		return tta.LanguageBash
	case ".r":
		return tta.LanguageR
	case ".java":
		return tta.LanguageJava
	}
	return ""
}

func runCommand(ctx context.Context, c *cli, args []string) int {
	const name = "tta run"
	fs := newFlagSet("run")
	template := fs.String("template", tta.DefaultTemplateName, "")
	lang := fs.String("lang", "", "")
	timeout := fs.Duration("timeout", 0, "")
	env := envFlag{}
	fs.Var(env, "env", "")
	initWindow := fs.Duration("init-window", 0, "")
	templatesFile := fs.String("templates", "", "")
	verbose := fs.Bool("v", false, "")
	pos, err := parse(c, fs, runUsage, args)
	if err != nil {
		return exitCodeOf(err)
	}
	switch {
	case len(pos) != 1 || pos[0] == "":
		usageError(c, name, "expected one FILE (or - for standard input), got %d arguments", len(pos))
		return exitUsage
	case *timeout < 0:
		usageError(c, name, "--timeout must be >= 0, got %v", *timeout)
		return exitUsage
	case *initWindow < 0:
		usageError(c, name, "--init-window must be >= 0, got %v", *initWindow)
		return exitUsage
	case *template == "":
		usageError(c, name, "--template must not be empty")
		return exitUsage
	}
	code, err := readCode(c, pos[0])
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	language := *lang
	if language == "" {
		language = languageOf(pos[0])
	}

	b, err := openBackend(c, name, "running", *templatesFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer b.Close()
	tpl := tta.Template{Name: *template, Window: *initWindow}
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(b.Client()), tta.WithTemplate(tpl))
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer exec.Close()

	start := time.Now()
	p := startProgress(c.stderr, c.tty, func() string {
		return fmt.Sprintf("running on a sandbox of %s… %s", tpl, seconds(time.Since(start)))
	})
	var mu sync.Mutex // serializes the callbacks' writes, which may come from different goroutines
	openLine := false // the code's stdout does not end with a newline; guarded by mu
	write := func(w io.Writer) func(string) {
		return func(s string) {
			p.Stop()
			mu.Lock()
			defer mu.Unlock()
			io.WriteString(w, s)
			if w == c.stdout && s != "" {
				openLine = !strings.HasSuffix(s, "\n")
			}
		}
	}
	out, err := exec.Execute(ctx, tta.CodeInput{
		Code:     code,
		Language: language,
		Timeout:  *timeout,
		Env:      env,
		OnStdout: write(c.stdout),
		OnStderr: write(c.stderr),
	})
	p.Stop()
	if err != nil {
		return runFailed(ctx, c, tpl, *timeout, err)
	}
	if *verbose {
		fmt.Fprintf(c.stderr, "%s: sandbox %s (template %s) ready in %s; the code ran in %s\n",
			name, out.SandboxID, out.Template, seconds(out.Startup), seconds(out.Duration))
	}
	mu.Lock()
	if openLine && len(out.Results) > 0 {
		fmt.Fprintln(c.stdout) // results start on a line of their own
	}
	mu.Unlock()
	printResults(c.stdout, out.Results)
	if out.Error != nil {
		tb := out.Error.Traceback
		if tb == "" {
			tb = out.Error.Name + ": " + out.Error.Value
		}
		if !c.tty {
			tb = ansi.Strip(tb)
		}
		fmt.Fprintln(c.stderr, strings.TrimRight(tb, "\n"))
		return exitFailed
	}
	return exitOK
}

// readCode reads the code from file, or from stdin for "-".
func readCode(c *cli, file string) (string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(c.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	return string(data), err
}

// printResults prints each result's text, and a line naming each binary
// representation and its size.
func printResults(w io.Writer, results []tta.Result) {
	for _, r := range results {
		if r.Text != "" {
			fmt.Fprintln(w, r.Text)
		}
		for _, mime := range slices.Sorted(maps.Keys(r.Data)) {
			data := r.Data[mime]
			switch mime {
			case "image/png", "image/jpeg", "application/pdf":
				n := len(data)
				if raw, err := base64.StdEncoding.DecodeString(data); err == nil {
					n = len(raw)
				}
				fmt.Fprintf(w, "[%s result, %d bytes]\n", mime, n)
			default:
				if r.Text == "" {
					fmt.Fprintf(w, "[%s result, %d bytes]\n", mime, len(data))
				}
			}
		}
	}
}

// runFailed reports an error of Execute and returns the exit status.
func runFailed(ctx context.Context, c *cli, tpl tta.Template, timeout time.Duration, err error) int {
	const name = "tta run"
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "%s: interrupted; the sandbox was killed\n", name)
		return exitInterrupted
	case errors.Is(err, tta.ErrCodeTimeout):
		fmt.Fprintf(c.stderr, "%s: the code ran longer than --timeout %v and was interrupted; the sandbox was killed\n", name, timeout)
		return exitFailed
	}
	fmt.Fprintf(c.stderr, "%s: %s\n", name, strings.TrimPrefix(err.Error(), "tta: "))
	fmt.Fprintf(c.stderr, "hint: %s\n", runHint(tpl, err))
	return exitUsage
}

// runHint suggests what to do after an infrastructure failure of tta run.
func runHint(tpl tta.Template, err error) string {
	var se *tta.SandboxError
	isOp := func(op string) bool { return errors.As(err, &se) && se.Op == op }
	switch {
	case errors.Is(err, tta.ErrTemplateNotReady):
		return fmt.Sprintf("run `tta doctor %s` to see why its code interpreter does not start; meanwhile use the default template and install packages at run time (tta.WithPackages, the runtime install fallback)", tpl.Ref())
	case isOp("create") && (errors.Is(err, e2b.ErrNotFound) || statusOf(err) == 400):
		return fmt.Sprintf("check the template's name or ID (%s); the embedded local server knows code-interpreter-v1, base and the templates of --templates FILE", tpl.Ref())
	case isOp("run") && (statusOf(err) == 400 || statusOf(err) == 404):
		return "the template's code interpreter refused the code: check --lang against the languages it runs"
	}
	return infraHint(err)
}
