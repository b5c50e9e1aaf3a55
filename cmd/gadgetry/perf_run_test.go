package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRunPerfTracerJSON: `gadgetry run` of a gadget whose tracer reads a perf event array prints
// exactly one JSON event per exec of a uniquely named binary, with its pid and comm (and
// nothing else on stdout), writes the summary to --summary-file, and leaves the kernel clean.
func TestRunPerfTracerJSON(t *testing.T) {
	gadgettest.RequireRoot(t)
	const n = 8
	bin := runTestBinary(t)
	obj := snapshotObject(t, "perf_exec")
	before := gadgettest.Objects(t, "gtest")
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	sumFile := filepath.Join(t.TempDir(), "summary.json")
	cmd := exec.Command(bin, "run", obj, "-o", "json", "--comm", comm, "--fields", "proc.comm,proc.pid", "--summary-file", sumFile)
	lines, stderr := startLines(t, cmd, 64)
	// The run is ready once a probe exec shows (probes before the programs attached show
	// nothing; each later one shows once). Then n more execs must show exactly once each.
	var probes []int
	var events []string
	deadline := time.After(30 * time.Second)
wait:
	for {
		c := exec.Command(exe)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		probes = append(probes, c.Process.Pid)
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gadgetry exited early: %s", stderr.String())
			}
			events = append(events, l)
			break wait
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no event in 30s; stderr: %s", stderr.String())
		}
	}
	var pids []int
	for range n {
		c := exec.Command(exe)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, c.Process.Pid)
	}
	// Stopping reads every record written before it detaches: no wait needed for the last ones.
	cmd.Process.Signal(syscall.SIGINT)
	for l := range lines {
		events = append(events, l)
	}
	checkSignalExit(t, cmd.Wait(), syscall.SIGINT, stderr.String())
	gadgettest.CheckClean(t, "gtest", before)
	var sum struct {
		DataSources map[string]struct{ Events, Lost uint64 }
	}
	if b, err := os.ReadFile(sumFile); json.Unmarshal(b, &sum) != nil || sum.DataSources["exec"].Lost != 0 {
		t.Errorf("summary %q is not a summary without loss (%v)", b, err)
	}
	seen := map[int]int{}
	for _, l := range events {
		var ev struct {
			Proc struct {
				Comm string
				Pid  int
			}
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Proc.Comm != comm {
			t.Errorf("event %q: want proc.comm %s (%v)", l, comm, err)
		}
		seen[ev.Proc.Pid]++
	}
	for _, pid := range pids {
		if seen[pid] != 1 {
			t.Errorf("exec of pid %d printed %d times, want once", pid, seen[pid])
		}
		delete(seen, pid)
	}
	for pid, k := range seen {
		if !slices.Contains(probes, pid) || k != 1 {
			t.Errorf("pid %d printed %d times; it is not one of the %d execs %v (probes %v)", pid, k, n, pids, probes)
		}
	}
}
