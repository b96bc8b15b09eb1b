package e2b

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"time"
)

// Metadata keys that name who created a sandbox, so that a sandbox whose
// creator crashed between create and kill can be found and killed later
// (Client.Reap). Ownership.Metadata sets them; tta's primitives set them on
// every sandbox they create.
const (
	// MetadataOwner names the owner: a deployment, a service, a machine.
	MetadataOwner = "tta.owner"
	// MetadataProcess names the process that created the sandbox: its start
	// time and process ID (see ProcessLabel).
	MetadataProcess = "tta.process"
	// MetadataPurpose says what the sandbox was for ("execute", "pool",
	// "session", ...).
	MetadataPurpose = "tta.purpose"
)

// processLabel names this process once: its start is when the package was
// initialised.
var processLabel = time.Now().UTC().Format(time.RFC3339Nano) + " pid " + strconv.Itoa(os.Getpid())

// ProcessLabel returns the MetadataProcess value of this process: the time
// package e2b was initialised, in UTC and RFC 3339 form, and the process ID,
// as "2026-12-07T03:20:43.123Z pid 4242". It is the same for the whole life
// of the process and differs between two processes, even with the same ID.
func ProcessLabel() string { return processLabel }

// Ownership labels a sandbox with its owner, its creating process and its
// purpose. The zero value labels nothing. It is a plain value.
type Ownership struct {
	// Owner is the owner ID; "" sets no ownership labels at all.
	Owner string
	// Process names the creating process; "" means ProcessLabel().
	Process string
	// Purpose says what the sandbox is for; "" leaves MetadataPurpose unset.
	Purpose string
}

// Metadata returns md (not modified) with the ownership labels added, in a
// new map; the labels win over md's values for the same keys. With no Owner
// it returns a copy of md (nil for a nil md).
func (o Ownership) Metadata(md map[string]string) map[string]string {
	out := maps.Clone(md)
	if o.Owner == "" {
		return out
	}
	if out == nil {
		out = make(map[string]string, 3)
	}
	out[MetadataOwner] = o.Owner
	out[MetadataProcess] = o.Process
	if o.Process == "" {
		out[MetadataProcess] = processLabel
	}
	if o.Purpose != "" {
		out[MetadataPurpose] = o.Purpose
	}
	return out
}

// ReapOptions selects the orphans Client.Reap kills. The zero value selects
// every sandbox that carries a MetadataOwner label, whatever its owner and
// age, which is rarely what you want: name the Owner.
type ReapOptions struct {
	// Owner selects sandboxes whose MetadataOwner is Owner; "" selects those
	// with any owner. Sandboxes without the label are never reaped.
	Owner string
	// OlderThan selects sandboxes started more than this long ago; 0 selects
	// any age. Negative is an error.
	OlderThan time.Duration
	// SpareProcess, when not "", spares the sandboxes whose MetadataProcess is
	// this value: a process reaping its own owner's orphans at start-up
	// passes ProcessLabel() so that it does not kill what it has just made.
	SpareProcess string
	// DryRun finds the orphans and kills none.
	DryRun bool
	// PageSize is the number of sandboxes asked for in each list request
	// (1..100); 0 means 100.
	PageSize int
}

// ReapReport is what Client.Reap found and did. It is a plain value.
type ReapReport struct {
	// Orphans are the sandboxes selected, newest first, running and paused.
	Orphans []SandboxInfo
	// Killed are the IDs of the orphans killed (none with DryRun).
	Killed []string
	// Gone are the IDs of orphans already gone when Reap came to kill them.
	Gone []string
	// Failed are the orphans whose kill failed, with the error.
	Failed []ReapFailure
	// Pages is the number of list requests made.
	Pages int
}

// ReapFailure is an orphan Client.Reap could not kill.
type ReapFailure struct {
	// ID is the sandbox's ID.
	ID string
	// Err is why its kill failed.
	Err error
}

// Reap finds the orphans opts selects (it lists sandboxes, every page, with
// a metadata filter on the owner when one is named, and checks each
// sandbox's labels again itself) and kills them, unless opts.DryRun. It lists
// everything before killing anything, so that kills do not shift the pages.
//
// It returns the report and an error when listing failed (then nothing was
// killed), or joining the kills that failed (the report's Failed lists them;
// the other orphans were killed). An orphan already gone is not an error.
// Each kill is clean-up, as Client.Kill: it runs even once ctx is cancelled.
// Reap is safe to run at any time from several processes: a sandbox killed by
// another reaper counts as Gone.
func (c *Client) Reap(ctx context.Context, opts ReapOptions) (*ReapReport, error) {
	const op = "reap sandboxes"
	if opts.OlderThan < 0 {
		return nil, fmt.Errorf("e2b: %s: OlderThan must be >= 0 (0 means any age), got %s", op, opts.OlderThan)
	}
	if opts.PageSize < 0 || opts.PageSize > 100 {
		return nil, fmt.Errorf("e2b: %s: PageSize must be from 1 to 100 (0 means 100), got %d", op, opts.PageSize)
	}
	list := ListOptions{Limit: opts.PageSize}
	if list.Limit == 0 {
		list.Limit = 100
	}
	if opts.Owner != "" {
		list.Metadata = map[string]string{MetadataOwner: opts.Owner}
	}
	report := &ReapReport{}
	cutoff := time.Now().Add(-opts.OlderThan)
	for {
		page, err := c.List(ctx, list)
		if err != nil {
			return report, fmt.Errorf("e2b: %s: listing page %d: %w", op, report.Pages+1, err)
		}
		report.Pages++
		for _, info := range page.Sandboxes {
			if opts.selects(info, cutoff) {
				report.Orphans = append(report.Orphans, info)
			}
		}
		if page.NextToken == "" {
			break
		}
		list.NextToken = page.NextToken
	}
	if opts.DryRun {
		return report, nil
	}
	var errs []error
	for _, info := range report.Orphans {
		killed, err := c.Kill(ctx, info.ID)
		switch {
		case err != nil:
			report.Failed = append(report.Failed, ReapFailure{ID: info.ID, Err: err})
			errs = append(errs, err)
		case killed:
			report.Killed = append(report.Killed, info.ID)
		default:
			report.Gone = append(report.Gone, info.ID)
		}
	}
	if len(errs) > 0 {
		return report, fmt.Errorf("e2b: %s: %d of %d kills failed: %w", op, len(errs), len(report.Orphans), errors.Join(errs...))
	}
	return report, nil
}

// selects reports whether the listed sandbox info is an orphan opts selects
// when sandboxes started before cutoff are old enough.
func (opts ReapOptions) selects(info SandboxInfo, cutoff time.Time) bool {
	owner, labelled := info.Metadata[MetadataOwner]
	switch {
	case !labelled, owner == "":
		return false
	case opts.Owner != "" && owner != opts.Owner:
		return false
	case opts.SpareProcess != "" && info.Metadata[MetadataProcess] == opts.SpareProcess:
		return false
	case opts.OlderThan > 0 && !info.StartedAt.Before(cutoff):
		return false
	}
	return true
}
