package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

var (
	runBuildOnce sync.Once
	runBinPath   string
	runBuildErr  error
)

// runTestBinary builds the real binary once per test run.
func runTestBinary(t *testing.T) string {
	t.Helper()
	runBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gadgetry-bin-")
		if err != nil {
			runBuildErr = err
			return
		}
		runBinPath = filepath.Join(dir, "gadgetry")
		out, err := exec.Command("go", "build", "-o", runBinPath, ".").CombinedOutput()
		if err != nil {
			runBuildErr = err
			t.Logf("%s", out)
		}
	})
	if runBuildErr != nil {
		t.Fatalf("go build: %v", runBuildErr)
	}
	return runBinPath
}

// runTestObject puts the exec test gadget's object (and a gadget.yaml) in a directory.
func runTestObject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	obj := filepath.Join(dir, "exec.bpf.o")
	if err := os.WriteFile(obj, gadgettest.Compile(t, "exec"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gadget.yaml"), []byte("name: test_exec\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestRunSignalsLeaveKernelClean runs the real binary, waits for an event of a uniquely named
// executable, stops the run with SIGINT or SIGTERM, and checks the exit (status 130 or 143),
// that stdout holds events only, the summary (--summary-file), and that no program or map of
// the run remains.
func TestRunSignalsLeaveKernelClean(t *testing.T) {
	gadgettest.RequireRoot(t)
	bin := runTestBinary(t)
	obj := runTestObject(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			before := gadgettest.Objects(t, "gtest")
			exe := gadgettest.UniqueExecutable(t)
			comm := filepath.Base(exe)
			sumFile := filepath.Join(t.TempDir(), "summary.json")
			cmd := exec.Command(bin, "run", obj, "-o", "json", "--comm", comm, "--fields", "proc.comm,filename", "--summary-file", sumFile)
			lines, stderr := startLines(t, cmd, 16)
			var first string
			deadline := time.After(30 * time.Second)
		loop:
			for {
				_ = exec.Command(exe).Run()
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("gadgetry exited early: %s", stderr.String())
					}
					first = l
					break loop
				case <-time.After(200 * time.Millisecond):
				case <-deadline:
					cmd.Process.Kill()
					t.Fatalf("no event in 30s; stderr: %s", stderr.String())
				}
			}
			want := `{"proc":{"comm":"` + comm + `"},"filename":"` + exe + `"}`
			if first != want {
				t.Errorf("first event %s, want %s", first, want)
			}
			cmd.Process.Signal(sig)
			for l := range lines {
				if l != want {
					t.Errorf("stdout line %s, want only events (%s)", l, want)
				}
			}
			checkSignalExit(t, cmd.Wait(), sig, stderr.String())
			var sum struct {
				DataSources map[string]struct{ Events, Lost uint64 }
			}
			b, _ := os.ReadFile(sumFile)
			if err := json.Unmarshal(b, &sum); err != nil || sum.DataSources["exec"].Events == 0 {
				t.Errorf("summary file %q is not a summary with events (%v)", b, err)
			}
			gadgettest.CheckClean(t, "gtest", before)
		})
	}
}

func TestRunHelpListsParams(t *testing.T) {
	gadgettest.RequireRoot(t)
	out, err := exec.Command(runTestBinary(t), "run", runTestObject(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{"Gadget parameters:", "--marker", "(uint32)", "--with_filename", `(bool) (default "true")`, "--pid", "--comm", "proc.parent.pid"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestRunBadParam(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, "gtest")
	out, err := exec.Command(runTestBinary(t), "run", runTestObject(t), "--pid", "abc").CombinedOutput()
	if err == nil {
		t.Fatal("--pid abc accepted")
	}
	if want := `gadget test_exec: --pid: "abc" is not a uint32 number`; !strings.Contains(string(out), want) {
		t.Errorf("error %q lacks %q", out, want)
	}
	gadgettest.CheckClean(t, "gtest", before)
}

// checkSignalExit checks that err is how gadgetry ends a run sig stopped: exit status 128 +
// sig (130 for SIGINT, 143 for SIGTERM).
func checkSignalExit(t *testing.T, err error, sig syscall.Signal, stderr string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+int(sig) {
		t.Fatalf("gadgetry after %s: %v, want exit status %d; stderr: %s", sig, err, 128+int(sig), stderr)
	}
}

// exitStatusOf returns the exit status in err from exec.Cmd.Wait (0 for nil, -1 when the
// process did not exit normally).
func exitStatusOf(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return -1
}

// startLines starts cmd and returns its stdout line by line (the channel, holding up to
// buffered lines, is closed at EOF) and its stderr as it comes.
func startLines(t *testing.T, cmd *exec.Cmd, buffered int) (<-chan string, *gadgettest.SyncBuffer) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &gadgettest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, buffered)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines, stderr
}
