// Command tta runs code in sandboxes, serves an E2B-compatible API on this
// machine, and diagnoses sandbox templates.
//
//	tta run [flags] FILE|-        run code through tta's CodeExecutionPrimitive
//	tta serve [flags]             serve the E2B-compatible API for E2B's SDKs
//	tta doctor [flags] TEMPLATE   check that a template's code interpreter starts
//	tta reap [flags]              kill orphaned sandboxes by their owner label
//	tta mcp [flags]               serve code execution to AI agents over MCP
//	tta help [COMMAND]            show help
//
// run and doctor use E2B when E2B_API_KEY is set (E2B_DOMAIN, E2B_API_URL and
// E2B_SANDBOX_URL are honoured as E2B's SDKs do), and otherwise start an
// embedded local sandbox server on the loopback interface, saying so on
// standard error. Local sandboxes are processes of this user with process
// isolation where the kernel allows it, not virtual machines: production
// untrusted code belongs on E2B.
//
// Exit status: 0 on success; 1 when the code raised or timed out (run) or the
// template is not healthy (doctor); 2 for usage errors and infrastructure
// failures; 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1   // the code raised or timed out; the template is not healthy
	exitUsage       = 2   // bad usage or an infrastructure failure
	exitInterrupted = 130 // SIGINT or SIGTERM
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is what a command runs with: its streams and its environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// tty reports whether stderr is a terminal: live progress lines are drawn
	// only there.
	tty bool
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) int
	usage   func(w io.Writer)
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"run", "run code in a sandbox and print its output", runCommand, runUsage},
		{"serve", "serve the E2B-compatible API for E2B's official SDKs", serveCommand, serveUsage},
		{"doctor", "check that a template's code interpreter starts", doctorCommand, doctorUsage},
		{"reap", "kill orphaned sandboxes by their owner label", reapCommand, reapUsage},
		{"mcp", "serve code execution to AI agents over the Model Context Protocol", mcpCommand, mcpUsage},
		{"help", "show help for tta or one of its commands", helpCommand, helpUsage},
	}
}

// run is the whole program: it runs the command named by args[0] with the
// rest of args and returns the exit status. Cancelling ctx (SIGINT, SIGTERM)
// interrupts the command, which cleans up (kills its sandboxes) before
// returning.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, tty: isTerminal(stderr)}
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		mainUsage(stdout)
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(ctx, c, args[1:])
		}
	}
	if strings.HasPrefix(name, "-") {
		fmt.Fprintf(stderr, "tta: flag %s given before a command\n", name)
	} else {
		fmt.Fprintf(stderr, "tta: unknown command %q\n", name)
	}
	fmt.Fprintln(stderr, "Run 'tta help' for usage.")
	return exitUsage
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `tta runs code in sandboxes: on E2B when E2B_API_KEY is set, otherwise on an
embedded local sandbox server (processes on this machine, no account needed).

Usage:

	tta <command> [flags] [arguments]

Commands:

`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "\t%-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Run 'tta help <command>' or 'tta <command> --help' for a command's flags.

Exit status: 0 on success; 1 when the code raised or timed out (run) or the
template is not healthy (doctor); 2 for usage errors and infrastructure
failures; 130 when interrupted.
`)
}

func helpUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: tta help [COMMAND]

Shows help for tta, or for COMMAND.
`)
}

func helpCommand(_ context.Context, c *cli, args []string) int {
	switch {
	case len(args) == 0:
		mainUsage(c.stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintln(c.stderr, "tta help: at most one command expected")
		return exitUsage
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
		helpUsage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			cmd.usage(c.stdout)
			return exitOK
		}
	}
	fmt.Fprintf(c.stderr, "tta help: unknown command %q\nRun 'tta help' for usage.\n", args[0])
	return exitUsage
}

// newFlagSet returns the flag set of a command. It prints nothing itself:
// parse reports errors and help.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("tta "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// errHelp is returned by parse when help was asked for and printed.
var errHelp = errors.New("help requested")

// parse parses args with fs, allowing flags after positional arguments
// ("tta doctor base --timeout 5s"); everything after "--" is positional. On
// -h/--help it prints usage to stdout and returns errHelp; on a bad flag it
// prints the error and a pointer to --help on stderr.
func parse(c *cli, fs *flag.FlagSet, usage func(io.Writer), args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			usage(c.stdout)
			return nil, errHelp
		}
		if err != nil {
			usageError(c, fs.Name(), "%v", err)
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError reports a usage error of the command name on stderr.
func usageError(c *cli, name, format string, a ...any) {
	fmt.Fprintf(c.stderr, "%s: %s\n", name, fmt.Sprintf(format, a...))
	fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", name)
}

// isTerminal reports whether w is a character device other than /dev/null,
// such as a terminal. TERM=dumb counts as no terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
