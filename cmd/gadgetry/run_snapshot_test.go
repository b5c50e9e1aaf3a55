package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// snapshotObject puts a runtime test gadget's object (runtime/testdata/<name>.bpf.c) and a
// gadget.yaml in a directory.
func snapshotObject(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	obj := filepath.Join(dir, name+".bpf.o")
	if err := os.WriteFile(obj, gadgettest.Compile(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gadget.yaml"), []byte("name: test_"+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestRunIterSnapshotJSON: `gadgetry run` of an iterator gadget prints the snapshot as one JSON
// array holding the gadgetry process itself (stdout holds nothing else), writes the summary
// to --summary-file, and exits by itself.
func TestRunIterSnapshotJSON(t *testing.T) {
	gadgettest.RequireRoot(t)
	bin := runTestBinary(t)
	before := gadgettest.Objects(t, "gtest")
	sumFile := filepath.Join(t.TempDir(), "summary.json")
	cmd := exec.Command(bin, "run", snapshotObject(t, "snapshot_task"), "-o", "json", "--fields", "pid,ppid,comm", "--summary-file", sumFile)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gadgetry: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("a snapshot run did not exit by itself; stderr: %s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want the snapshot alone, got %d lines:\n%s", len(lines), stdout.String())
	}
	var tasks []map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &tasks); err != nil {
		t.Fatalf("first line is not a JSON array (%v): %.300s", err, lines[0])
	}
	want := map[string]any{"pid": float64(cmd.Process.Pid), "ppid": float64(os.Getpid()), "comm": "gadgetry"}
	found := 0
	for _, task := range tasks {
		if task["pid"] == want["pid"] {
			found++
			if len(task) != 3 || task["ppid"] != want["ppid"] || task["comm"] != want["comm"] {
				t.Errorf("gadgetry's own record %v, want %v", task, want)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d records of gadgetry (pid %d) in a snapshot of %d tasks, want 1", found, cmd.Process.Pid, len(tasks))
	}
	var sum struct {
		DataSources map[string]struct{ Events uint64 }
	}
	b, _ := os.ReadFile(sumFile)
	if err := json.Unmarshal(b, &sum); err != nil || sum.DataSources["tasks"].Events != uint64(len(tasks)) {
		t.Errorf("summary %q is not a summary of %d events (%v)", b, len(tasks), err)
	}
	gadgettest.CheckClean(t, "gtest", before)
}

// TestRunMapIterJSON: `gadgetry run` of a map-iterator gadget prints a JSON array per dump;
// getppid calls of this test process are counted exactly, each burst whole in one dump; a dump
// comes at SIGINT (exit status 130) and nothing stays in the kernel. Each burst is made while gadgetry is stopped
// (SIGSTOP), so no dump can cut it in two and no timing decides which dump holds it.
func TestRunMapIterJSON(t *testing.T) {
	gadgettest.RequireRoot(t)
	bin := runTestBinary(t)
	before := gadgettest.Objects(t, "gtest")
	pid := strconv.Itoa(os.Getpid())
	cmd := exec.Command(bin, "run", snapshotObject(t, "mapiter"), "-o", "json",
		"--map-fetch-interval", "300ms", "-F", "pid=="+pid, "--fields", "pid,calls")
	lines, stderr := startLines(t, cmd, 64)
	defer cmd.Process.Kill()
	next := func() (string, bool) {
		select {
		case l, ok := <-lines:
			return l, ok
		case <-time.After(30 * time.Second):
			t.Fatalf("no output in 30s; stderr: %s", stderr.String())
		}
		return "", false
	}
	calls := func(line string) uint64 {
		var recs []struct {
			Pid   int
			Calls uint64
		}
		if err := json.Unmarshal([]byte(line), &recs); err != nil {
			t.Fatalf("line %q is not a JSON array: %v", line, err)
		}
		var n uint64
		for _, r := range recs {
			if r.Pid != os.Getpid() {
				t.Errorf("record of pid %d passed -F pid==%s", r.Pid, pid)
			}
			n += r.Calls
		}
		return n
	}
	// The first dump says the programs are attached.
	if l, ok := next(); !ok || calls(l) != 0 {
		t.Fatalf("first dump %q; stderr: %s", l, stderr.String())
	}
	burst := func(n int) {
		stopProcess(t, cmd.Process)
		for i := 0; i < n; i++ {
			syscall.Getppid()
		}
		cmd.Process.Signal(syscall.SIGCONT)
	}
	// got is every dump's count but the empty ones: the bursts, in order, one per dump.
	var got []uint64
	for _, n := range []int{6, 4} {
		burst(n)
		for c := uint64(0); c == 0; {
			l, ok := next()
			if !ok {
				t.Fatalf("gadgetry exited early; stderr: %s", stderr.String())
			}
			if c = calls(l); c != 0 {
				got = append(got, c)
			}
		}
	}
	burst(2)
	cmd.Process.Signal(syscall.SIGINT)
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	checkSignalExit(t, cmd.Wait(), syscall.SIGINT, stderr.String())
	if len(rest) < 1 {
		t.Fatalf("no output after SIGINT: want the last dump")
	}
	for _, l := range rest { // dumps only: the summary is not on stdout
		if n := calls(l); n != 0 {
			got = append(got, n)
		}
	}
	if !slices.Equal(got, []uint64{6, 4, 2}) {
		t.Errorf("calls per dump (empty dumps left out) %v, want [6 4 2]", got)
	}
	gadgettest.CheckClean(t, "gtest", before)
}

// TestRunHistogramColumns: in a table, a log2 histogram field (an array of
// gadget_histogram_slot__u32, runtime/testdata/histogram.bpf.c) is drawn as bars, slot by slot
// up to the last that counted, under the field's name and metrics.unit, after a line naming
// the record by its other fields. Six getsid() calls with one key count 1, 2 and 3 in slots 0,
// 1 and 2. Each try uses a key of its own, made while gadgetry is stopped, so its six calls
// are all in one dump or in none (before the program was attached).
func TestRunHistogramColumns(t *testing.T) {
	gadgettest.RequireRoot(t)
	bin := runTestBinary(t)
	obj := snapshotObject(t, "histogram")
	gadgettest.WriteFile(t, filepath.Join(filepath.Dir(obj), "gadget.yaml"),
		"name: test_histogram\ndatasources:\n  hists:\n    fields:\n      hist:\n        annotations:\n          metrics.unit: calls\n", 0o644)
	cmd := exec.Command(bin, "run", obj, "--map-fetch-interval", "100ms", "--fields", "key,hist")
	lines, stderr := startLines(t, cmd, 256)
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}()
	const keyMin = 0x7e000000 // GTEST_KEY_MIN
	want := func(key int) []string {
		return []string{
			"key=" + strconv.Itoa(key),
			"hist (calls)",
			"        0 -> 1 : 1        |*************                           |",
			"        2 -> 3 : 2        |**************************              |",
			"        4 -> 7 : 3        |****************************************|",
		}
	}
	// A try, then a short wait for a line, until a block shows (the first ones may come
	// before the program is attached); the bound is a hang guard, minutes long.
	for key := keyMin; key < keyMin+3000; key++ {
		stopProcess(t, cmd.Process)
		for i := 0; i < 6; i++ {
			syscall.Syscall(syscall.SYS_GETSID, uintptr(key), 0, 0)
		}
		cmd.Process.Signal(syscall.SIGCONT)
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gadgetry exited; stderr: %s", stderr.String())
			}
			if !strings.HasPrefix(l, "key=") {
				t.Fatalf("unexpected line %q; stderr: %s", l, stderr.String())
			}
			n, err := strconv.Atoi(strings.TrimPrefix(l, "key="))
			if err != nil || n < keyMin || n > key {
				t.Fatalf("unexpected line %q", l)
			}
			got := []string{l}
			for len(got) < len(want(n)) {
				l, ok := <-lines
				if !ok {
					t.Fatalf("gadgetry exited; stderr: %s", stderr.String())
				}
				got = append(got, l)
			}
			if !slices.Equal(got, want(n)) {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want(n), "\n"))
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no histogram printed; stderr: %s", stderr.String())
}

// stopProcess stops p (SIGSTOP) and returns once every thread of it is stopped: the signal
// takes effect asynchronously, and a thread still running could be in the middle of a map
// dump. A process that exits meanwhile fails the test; a minute is the hang guard.
func stopProcess(t *testing.T, p *os.Process) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping gadgetry: %v", err)
	}
	dir := fmt.Sprintf("/proc/%d/task", p.Pid)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("gadgetry is gone: %v", err)
		}
		stopped := true
		for _, task := range tasks {
			stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			if err != nil {
				continue // the thread exited
			}
			// pid (comm) state ...: the state follows the last ')'.
			rest := stat[bytes.LastIndexByte(stat, ')')+1:]
			if f := bytes.Fields(rest); len(f) == 0 || (f[0][0] != 'T' && f[0][0] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("gadgetry's threads were not all stopped a minute after SIGSTOP (hang guard)")
		}
	}
}
