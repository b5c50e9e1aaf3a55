package vmtest_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// execEvent holds the trace_exec fields this test reads from `gadgetry run -o json`.
type execEvent struct {
	Proc struct {
		Pid    int `json:"pid"`
		Parent struct {
			Pid int `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
	File string `json:"file"`
	// Tri-states: JSON true, false, or null when unknown (nil).
	UpperLayer  *bool `json:"upper_layer"`
	FUpperLayer *bool `json:"fupper_layer"`
}

// triString shows a tri-state as JSON does.
func triString(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}

// TestVMTraceExecUpperLayer runs the full trace_exec gadget through the gadgetry binary and
// checks fupper_layer: true for a script that lives in an overlay's upper layer and is executed
// directly, false when the same script is handed to /bin/sh (the executed file is then /bin/sh).
// Telling them apart needs a security_bprm_check hook (fentry or kprobe).
func TestVMTraceExecUpperLayer(t *testing.T) {
	if kernel.Have(kernel.Fentry) != nil && kernel.Have(kernel.Kprobe) != nil {
		kernel.Require(t, kernel.Fentry) // skips with the reason, or fails where expected
	}
	ov := vmtest.MountOverlay(t)
	script := filepath.Join(ov.Merged, "upper.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ov.Upper, "upper.sh")); err != nil {
		t.Fatalf("the script is not in the upper layer: %v", err)
	}

	// gadgetry runs a compiled object with its gadget.yaml next to it.
	dir := t.TempDir()
	copyFile(t, vmtest.BPFObject(t, "testdata/trace_exec.bpf.c"), filepath.Join(dir, "program.bpf.o"))
	copyFile(t, "testdata/trace_exec.gadget.yaml", filepath.Join(dir, "gadget.yaml"))
	cmd := exec.Command(vmtest.Gadgetry(t), "run", filepath.Join(dir, "program.bpf.o"), "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &gadgettest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gadgetry: %v", err)
	}
	events := make(chan execEvent, 1024)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e execEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Proc.Parent.Pid == os.Getpid() {
				events <- e
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gadgetry's stderr:\n%s", stderr.String())
		}
	}()

	// The gadget is ready once it reports an exec of ours; try a bounded number of times.
	ready := false
	for i := 0; i < 300 && !ready; i++ {
		pid := runChild(t, exec.Command("/bin/sh", "-c", "exit 0"))
		ready = waitEvent(events, pid, 100*time.Millisecond) != nil
	}
	if !ready {
		t.Fatalf("gadgetry reported none of this test's execs\n%s", stderr.String())
	}

	for _, c := range []struct {
		name   string
		cmd    *exec.Cmd
		fupper bool
	}{
		{"script executed directly", exec.Command(script), true},
		{"script as an argument of /bin/sh", exec.Command("/bin/sh", script), false},
	} {
		pid := runChild(t, c.cmd)
		e := waitEvent(events, pid, 30*time.Second)
		if e == nil {
			t.Errorf("%s: no event for pid %d", c.name, pid)
			continue
		}
		if e.FUpperLayer == nil || *e.FUpperLayer != c.fupper {
			t.Errorf("%s: fupper_layer %s (file %s, upper_layer %s), want %v", c.name, triString(e.FUpperLayer), e.File, triString(e.UpperLayer), c.fupper)
		}
	}
}

// runChild runs cmd to completion and returns its pid.
func runChild(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return cmd.Process.Pid
}

// waitEvent returns the event of pid, or nil when none came within limit (a bound on waiting,
// not an assertion on speed) or the stream ended.
func waitEvent(events <-chan execEvent, pid int, limit time.Duration) *execEvent {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if e.Proc.Pid == pid {
				return &e
			}
		case <-timer.C:
			return nil
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
