package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/tta-dev/tta/local"
)

// limitFlags are the flags that set the resource limits of local sandboxes,
// each defaulting to local.DefaultLimits.
type limitFlags struct {
	memory, disk    sizeFlag
	processes, open int64
	cpus            float64
}

// limitsUsage documents the flags of addLimitFlags.
const limitsUsage = `	--memory SIZE      memory of one sandbox, files included (default %s)
	--disk SIZE        size of one sandbox's files: /home/user, /tmp, /root (default %s)
	--processes N      processes and threads of one sandbox (default %d)
	--cpus N           CPU time of one sandbox, in CPUs, such as 0.5 (default %g)
	--open-files N     open files of each sandbox process (default %d)
	                   SIZE is bytes or a number with K, M or G (powers of 1024); 0 removes a limit.
	                   Memory, disk, processes and CPUs are enforced when tta runs as root.
`

// addLimitFlags defines the limit flags on fs.
func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	d := local.DefaultLimits()
	l := &limitFlags{memory: sizeFlag(d.Memory), disk: sizeFlag(d.Disk)}
	fs.Var(&l.memory, "memory", "")
	fs.Var(&l.disk, "disk", "")
	fs.Int64Var(&l.processes, "processes", d.Processes, "")
	fs.Float64Var(&l.cpus, "cpus", d.CPU, "")
	fs.Int64Var(&l.open, "open-files", d.OpenFiles, "")
	return l
}

// limitsHelp is limitsUsage with the defaults filled in.
func limitsHelp() string {
	d := local.DefaultLimits()
	mem, disk := sizeFlag(d.Memory), sizeFlag(d.Disk)
	return fmt.Sprintf(limitsUsage, mem.String(), disk.String(), d.Processes, d.CPU, d.OpenFiles)
}

// limits returns the limits the flags set, or why they are wrong.
func (l *limitFlags) limits() (local.Limits, error) {
	for name, v := range map[string]float64{"--processes": float64(l.processes), "--cpus": l.cpus, "--open-files": float64(l.open)} {
		if v < 0 {
			return local.Limits{}, fmt.Errorf("%s must be >= 0, got %v", name, v)
		}
	}
	out := local.DefaultLimits()
	out.Memory, out.Disk = int64(l.memory), int64(l.disk)
	out.Processes, out.CPU, out.OpenFiles = l.processes, l.cpus, l.open
	return out, nil
}

// sizeFlag is a size in bytes, written as a number with an optional K, M or
// G suffix (powers of 1024; a trailing "B" or "iB" is accepted).
type sizeFlag int64

func (s *sizeFlag) Set(v string) error {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(v)), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size: write bytes or a number with K, M or G, such as 512M", v)
	}
	*s = sizeFlag(n * float64(mult))
	return nil
}

func (s *sizeFlag) String() string {
	switch n := int64(*s); {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	default:
		return strconv.FormatInt(n, 10)
	}
}
