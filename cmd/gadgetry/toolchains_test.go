package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// toolchainGadgets are the gadgets whose WASM module must give the same events whether built
// with standard Go or TinyGo: the skeleton of `gadget init`, both examples and every built-in
// gadget with a WASM module, each copied out of the checkout as an outside author would have
// it. params are the run's flags; the workload is a uniquely named copy of /bin/true, whose
// exec and openat calls every one of these gadgets reports.
var toolchainGadgets = []struct {
	name, dir string // dir relative to the repository; empty: `gadget init`
	params    []string
}{
	{name: "skeleton", params: []string{"--greeting=hi"}},
	{name: "exec_annotate", dir: "examples/exec_annotate"},
	{name: "syscall_filter", dir: "examples/syscall_filter", params: []string{"--syscalls=openat"}},
	{name: "traceloop", dir: "gadgets/traceloop", params: []string{"--stream", "--syscall-filters=openat,execve"}},
}

// TestToolchainsSameEvents builds each gadget twice outside the checkout, with GOPROXY=off and
// empty caches (the SDK comes from the binary): once with standard Go and once with TinyGo.
// It runs both images at the same time over the same workload and requires the two runs to
// report the same events of a child, field by field: both see the same syscalls and execs, so
// any difference comes from the WASM modules. Only the times (timestamp, duration, and their
// _raw numbers) are left out: each run's own eBPF programs read the clock.
func TestToolchainsSameEvents(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	gadgettest.RequireTinyGo(t)
	bin := runTestBinary(t)
	root := gadgettest.RepoRoot()
	for _, g := range toolchainGadgets {
		t.Run(g.name, func(t *testing.T) {
			work := t.TempDir()
			env := outsideEnv(t, work)
			src := filepath.Join(work, g.name)
			if g.dir == "" {
				cliOK(t, bin, work, env, "gadget", "init", g.name)
			} else {
				copyGadget(t, filepath.Join(root, g.dir), src)
			}
			images := map[string]string{"go": g.name + ":go", "tinygo": g.name + ":tinygo"}
			cliOK(t, bin, work, env, "image", "build", "--arch", "amd64", "--wasm-toolchain=go", "-t", images["go"], src)
			if g.dir == "" {
				// The skeleton asks for TinyGo in its build.yaml rather than on the command line.
				if err := os.WriteFile(filepath.Join(src, "build.yaml"), []byte("wasm-toolchain: tinygo\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				cliOK(t, bin, work, env, "image", "build", "--arch", "amd64", "-t", images["tinygo"], src)
			} else {
				cliOK(t, bin, work, env, "image", "build", "--arch", "amd64", "--wasm-toolchain=tinygo", "-t", images["tinygo"], src)
			}
			out := cliOK(t, bin, work, env, "image", "inspect", images["tinygo"])
			if !strings.Contains(out, "wasm built with  tinygo ") {
				t.Errorf("image inspect does not name TinyGo:\n%s", out)
			}
			compareRuns(t, bin, work, env, images["go"], images["tinygo"], g.params)
		})
	}
}

// cliOK runs gadgetry and fails the test when it fails; returns its combined output.
func cliOK(t *testing.T, bin, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gadgetry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyGadget copies what an author's gadget directory holds (program.bpf.c, gadget.yaml,
// build.yaml, README.md, go/ without tests) from src to dst.
func copyGadget(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		top := strings.Split(rel, string(filepath.Separator))[0]
		switch {
		case rel == ".":
			return os.MkdirAll(dst, 0o755)
		case fi.IsDir() && top != "go":
			return filepath.SkipDir
		case fi.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case strings.HasSuffix(p, "_test.go"):
			return nil
		case top == "go" || top == "program.bpf.c" || top == "gadget.yaml" || top == "build.yaml" || top == "README.md":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// eventKey reads an event's pid and comm (proc.pid/proc.comm, or pid/comm at the top).
func eventKey(ev map[string]any) (pid float64, comm string) {
	m := ev
	if p, ok := ev["proc"].(map[string]any); ok {
		m = p
	}
	pid, _ = m["pid"].(float64)
	comm, _ = m["comm"].(string)
	return pid, comm
}

// compareRuns runs two images side by side and compares the events of a child both saw
// entirely: a child is followed by a marker process, and once both runs have reported the
// marker, the child's events are complete in both (ring buffers deliver in order).
func compareRuns(t *testing.T, bin, work string, env []string, imgA, imgB string, params []string) {
	t.Helper()
	child, marker := gadgettest.UniqueExecutable(t), gadgettest.UniqueExecutable(t)
	childComm, markerComm := filepath.Base(child), filepath.Base(marker)
	type run struct {
		lines  <-chan string
		stderr *gadgettest.SyncBuffer
		cmd    *exec.Cmd
		events map[float64][]map[string]any // by pid, of the child and the marker
	}
	var runs []*run
	for _, img := range []string{imgA, imgB} {
		cmd := exec.Command(bin, append([]string{"run", img, "-o", "json"}, params...)...)
		cmd.Dir, cmd.Env = work, env
		lines, stderr := startLines(t, cmd, 4096)
		r := &run{lines: lines, stderr: stderr, cmd: cmd, events: map[float64][]map[string]any{}}
		runs = append(runs, r)
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
		}()
	}
	// read takes what a run printed so far, keeping the child's and the marker's events.
	read := func(r *run) {
		for {
			select {
			case line, ok := <-r.lines:
				if !ok {
					t.Fatalf("%s ended early; stderr:\n%s", r.cmd.Args[2], r.stderr.String())
				}
				var ev map[string]any
				if json.Unmarshal([]byte(line), &ev) != nil {
					continue
				}
				if pid, comm := eventKey(ev); comm == childComm || comm == markerComm {
					// Each run has its own eBPF programs, which read the clock
					// themselves: times differ by microseconds between the runs.
					for _, k := range []string{"timestamp", "timestamp_raw", "duration", "duration_raw"} {
						delete(ev, k)
					}
					r.events[pid] = append(r.events[pid], ev)
				}
			default:
				return
			}
		}
	}
	// Each round runs the child then the marker, and waits until both runs reported the
	// marker or a bounded number of polls passed (the runs may still be starting).
	for round := 0; round < 600; round++ {
		c := exec.Command(child)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		m := exec.Command(marker)
		if err := m.Run(); err != nil {
			t.Fatal(err)
		}
		cpid, mpid := float64(c.Process.Pid), float64(m.Process.Pid)
		for poll := 0; poll < 20; poll++ {
			for _, r := range runs {
				read(r)
			}
			if len(runs[0].events[mpid]) > 0 && len(runs[1].events[mpid]) > 0 {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		if len(runs[0].events[mpid]) == 0 || len(runs[1].events[mpid]) == 0 {
			continue // not both attached yet
		}
		a, b := runs[0].events[cpid], runs[1].events[cpid]
		if len(a) == 0 || len(b) == 0 {
			continue // a run attached between the child and the marker
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("the child's events differ:\n%s (%d):\n%s\n%s (%d):\n%s", imgA, len(a), dump(a), imgB, len(b), dump(b))
		}
		t.Logf("%d identical events of the child from both modules, e.g. %s", len(a), dump(a[:1]))
		return
	}
	t.Fatalf("the two runs never both reported the child; stderr of %s:\n%s\nstderr of %s:\n%s", imgA, runs[0].stderr.String(), imgB, runs[1].stderr.String())
}

func dump(evs []map[string]any) string {
	var b strings.Builder
	for _, ev := range evs {
		j, _ := json.Marshal(ev)
		fmt.Fprintf(&b, "  %s\n", j)
	}
	return b.String()
}

// TestOlderSDKModuleRuns runs a module built against an older SDK (testdata/oldsdk: the
// exec_annotate example's module as built before the SDK had a version) with today's host and
// checks the field it computes on an exec of a child.
func TestOlderSDKModuleRuns(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin := runTestBinary(t)
	work := t.TempDir()
	env := outsideEnv(t, work)
	dir := filepath.Join(work, "old")
	copyGadget(t, filepath.Join(gadgettest.RepoRoot(), "examples", "exec_annotate"), dir)
	if err := os.RemoveAll(filepath.Join(dir, "go")); err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(filepath.Join("testdata", "oldsdk", "exec_annotate.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "module.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "build.yaml"), []byte("wasm: module.wasm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cliOK(t, bin, work, env, "image", "build", "--arch", "amd64", "-t", "old:v1", dir)

	cmd := exec.Command(bin, "run", "old:v1", "-o", "json")
	cmd.Dir, cmd.Env = work, env
	lines, stderr := startLines(t, cmd, 4096)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	child := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(child)
	ev, _ := awaitChildEvent(t, lines, stderr, child)
	if want := "gadgetry.test > " + comm; ev["lineage"] != want {
		t.Fatalf("lineage = %v, want %q (event %v)", ev["lineage"], want, ev)
	}
}

// awaitChildEvent runs child again and again until the run whose JSON lines are lines reports
// an event of it (by comm), and returns that event and the pid of the run of child it is of.
// It fails the test when the run ends, or after five minutes (a hang guard: the run may still
// be loading, and other processes' events come in between).
func awaitChildEvent(t *testing.T, lines <-chan string, stderr *gadgettest.SyncBuffer, child string) (map[string]any, int) {
	t.Helper()
	comm := filepath.Base(child)
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		if err := exec.Command(child).Run(); err != nil {
			t.Fatal(err)
		}
		for poll := 0; poll < 20; poll++ {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("the run ended; stderr:\n%s", stderr.String())
				}
				var ev map[string]any
				if json.Unmarshal([]byte(line), &ev) != nil {
					continue
				}
				if pid, c := eventKey(ev); c == comm {
					return ev, int(pid)
				}
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
	t.Fatalf("no event of %s; stderr:\n%s", comm, stderr.String())
	return nil, 0
}
