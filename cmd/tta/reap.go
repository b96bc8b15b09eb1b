package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tta-dev/tta/e2b"
)

func reapUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: tta reap [--owner ID] [--older-than D] [--dry-run]

Kills orphaned sandboxes: those tta created and the process that created them
no longer kills, because it crashed between create and kill. tta labels every
sandbox it creates with metadata naming its owner (%s: the owner ID
given to tta.WithOwner), its process (%s) and its purpose
(%s). reap lists sandboxes by that metadata, every page, running and
paused, and kills the ones selected, printing one line for each and a summary.
Sandboxes without an owner label are never touched.

Without --older-than it kills the owner's sandboxes whatever their age, those
of a process still running included: from cron, give --older-than a value
longer than the longest run or session you expect. Running it twice, or from
two machines at once, is safe: a sandbox killed by the other counts as gone.

It needs E2B_API_KEY (E2B_DOMAIN, E2B_API_URL and E2B_ACCESS_TOKEN are
honoured, so E2B_API_URL can name a tta serve server); the embedded local
server has no sandboxes to reap: they end with the process that made them.

Exit status: 0 when every orphan found was killed (or with --dry-run); 1 when
some kills failed; 2 for usage errors and when sandboxes cannot be listed;
130 when interrupted.

Flags:
	--owner ID        only sandboxes of this owner (default: every owner)
	--older-than D    only sandboxes started more than D ago, e.g. 30m (default: any age)
	--dry-run         print what would be killed and kill nothing
`, e2b.MetadataOwner, e2b.MetadataProcess, e2b.MetadataPurpose)
}

func reapCommand(ctx context.Context, c *cli, args []string) int {
	const name = "tta reap"
	fs := newFlagSet("reap")
	owner := fs.String("owner", "", "")
	olderThan := fs.Duration("older-than", 0, "")
	dryRun := fs.Bool("dry-run", false, "")
	pos, err := parse(c, fs, reapUsage, args)
	if err != nil {
		return exitCodeOf(err)
	}
	if len(pos) != 0 {
		usageError(c, name, "takes no arguments, got %q; name the owner with --owner", pos)
		return exitUsage
	}
	if *olderThan < 0 {
		usageError(c, name, "--older-than must be >= 0, got %v", *olderThan)
		return exitUsage
	}
	client, err := e2b.NewClient()
	if errors.Is(err, e2b.ErrNoAPIKey) {
		fmt.Fprintf(c.stderr, "%s: %s is not set: reap kills sandboxes on E2B (or on the server E2B_API_URL names); the embedded local server's sandboxes end with their process\n", name, e2b.EnvAPIKey)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer client.CloseIdleConnections()

	report, err := client.Reap(ctx, e2b.ReapOptions{Owner: *owner, OlderThan: *olderThan, DryRun: *dryRun})
	listed := err == nil || len(report.Failed) > 0 // a failed list kills nothing
	if listed {
		printReap(c.stdout, report, *dryRun, time.Now())
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "%s: interrupted\n", name)
		return exitInterrupted
	case err != nil && len(report.Failed) == 0:
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(c.stderr, "%s: %d of %d orphans could not be killed; run tta reap again, they end at their timeout anyway\n", name, len(report.Failed), len(report.Orphans))
		return exitFailed
	}
	return exitOK
}

// printReap prints one line for each orphan of report, saying what was done
// to it, and a summary.
func printReap(w io.Writer, report *e2b.ReapReport, dryRun bool, now time.Time) {
	outcome := make(map[string]string, len(report.Orphans))
	for _, id := range report.Killed {
		outcome[id] = "killed"
	}
	for _, id := range report.Gone {
		outcome[id] = "gone"
	}
	for _, f := range report.Failed {
		outcome[f.ID] = "failed: " + f.Err.Error()
	}
	for _, info := range report.Orphans {
		what := outcome[info.ID]
		if dryRun {
			what = "would kill"
		}
		fmt.Fprintf(w, "%s %s owner=%s purpose=%s process=%q state=%s age=%s\n",
			what, info.ID, info.Metadata[e2b.MetadataOwner], orNone(info.Metadata[e2b.MetadataPurpose]),
			info.Metadata[e2b.MetadataProcess], info.State, now.Sub(info.StartedAt).Round(time.Second))
	}
	if dryRun {
		fmt.Fprintf(w, "%d orphans found (dry run: none killed)\n", len(report.Orphans))
		return
	}
	fmt.Fprintf(w, "%d orphans found: %d killed, %d already gone, %d failed\n",
		len(report.Orphans), len(report.Killed), len(report.Gone), len(report.Failed))
}

// orNone returns s, or "-" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
