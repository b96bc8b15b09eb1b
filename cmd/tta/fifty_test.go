package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/internal/testenv"
)

// fiftySandboxes is how many sandboxes TestFiftySandboxes runs at once.
const fiftySandboxes = 50

// TestFiftySandboxes runs 50 sandboxes at the same time through `tta serve`
// (in-process, over its loopback socket): each is created and runs Python,
// all 50 are alive together, then all are killed concurrently. No call may
// fail, and afterwards no sandbox process and no goroutine may be left. It
// takes a few seconds (about 3.5 s under -race on 2 cores) and is skipped
// with -short; -v prints its timings:
//
//	go test -race -run TestFiftySandboxes -v ./cmd/tta/
func TestFiftySandboxes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping 50 concurrent sandboxes")
	}
	testenv.RequireTools(t, "python3")
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: cannot count sandbox processes")
	}
	root := t.TempDir()
	s := startServe(t, "--addr", "127.0.0.1:0", "--root", root)
	before := goleak.IgnoreCurrent()
	client := s.client(t)
	ctx := t.Context()

	begin := time.Now()
	sandboxes := make([]*e2b.Sandbox, fiftySandboxes)
	took := make([]time.Duration, fiftySandboxes)
	errs := make([]error, fiftySandboxes)
	var wg sync.WaitGroup
	for i := range fiftySandboxes {
		wg.Go(func() {
			start := time.Now()
			sbx, err := client.Create(ctx, e2b.CreateOptions{Timeout: 2 * time.Minute})
			if err != nil {
				errs[i] = err
				return
			}
			sandboxes[i] = sbx
			exec, err := sbx.RunCode(ctx, fmt.Sprintf("import os\nn = %d\nn * n", i), e2b.RunCodeOptions{})
			took[i] = time.Since(start)
			switch {
			case err != nil:
				errs[i] = err
			case exec.Error != nil:
				errs[i] = fmt.Errorf("sandbox %d raised %s: %s", i, exec.Error.Name, exec.Error.Value)
			case exec.Text() != strconv.Itoa(i*i):
				errs[i] = fmt.Errorf("sandbox %d answered %q, want %d", i, exec.Text(), i*i)
			}
		})
	}
	wg.Wait()
	wall := time.Since(begin)
	require.NoError(t, errors.Join(errs...))
	alive := descendants(t, nil)
	assert.GreaterOrEqual(t, alive, fiftySandboxes, "every sandbox has its Python kernel running")
	slices.Sort(took)
	t.Logf("%d sandboxes created and ran Python concurrently in %v (per sandbox: p50 %v, p95 %v, max %v); %d sandbox processes alive",
		fiftySandboxes, wall.Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond),
		took[len(took)*95/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), alive)

	begin = time.Now()
	for i, sbx := range sandboxes {
		wg.Go(func() {
			killed, err := sbx.Kill(ctx)
			if err == nil && !killed {
				err = fmt.Errorf("sandbox %d was already gone", i)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	t.Logf("killed %d sandboxes concurrently in %v", fiftySandboxes, time.Since(begin).Round(time.Millisecond))
	require.NoError(t, errors.Join(errs...))
	client.CloseIdleConnections()

	// The server keeps its fork server of Python kernels, and the networks
	// of ended sandboxes for reuse, until it stops.
	assert.Zero(t, descendants(t, isServers), "no sandbox process is left once every sandbox is killed")
	testenv.AssertNoSandboxDirs(t, root)

	assert.Equal(t, exitOK, s.shutdown(t))
	assert.Contains(t, s.stderr.String(), "killed 0 sandboxes")
	assert.Zero(t, descendants(t, nil), "a process outlived the server")
	goleak.VerifyNone(t, before)
}

// isServers reports whether pid is a process the local runtime keeps for
// later sandboxes: its fork server of Python kernels (python3 -u -s -,
// reading its program on stdin) or the slirp4netns of a network kept for
// reuse.
func isServers(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return strings.HasSuffix(string(cmdline), "\x00-u\x00-s\x00-\x00") ||
		len(args) > 0 && strings.HasSuffix(args[0], "/slirp4netns")
}

// descendants counts the processes descending from this one, except those
// skip reports (their own descendants still count).
func descendants(t *testing.T, skip func(pid int) bool) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			parent[pid] = ppid
		}
	}
	self, n := os.Getpid(), 0
	for pid := range parent {
		if skip != nil && skip(pid) {
			continue
		}
		for p, hops := parent[pid], 0; p != 0 && hops < 64; p, hops = parent[p], hops+1 {
			if p == self {
				n++
				break
			}
		}
	}
	return n
}
