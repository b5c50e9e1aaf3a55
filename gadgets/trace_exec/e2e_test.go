package traceexec_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// The end-to-end tests run the real `gadgetry` binary, built by the test, on an image built by
// `gadgetry image build .` into a private store, and read its `-o json` lines. They check what a
// user sees: field names, enum names, errno names, argv as a list.

const e2eImage = "trace-exec-test"

// e2eStore is the store holding the trace_exec image, built once.
var e2eStore struct {
	once sync.Once
	dir  string
}

// e2eSetup builds the gadgetry binary and the trace_exec image once per test binary.
func e2eSetup(t *testing.T) (bin, store string) {
	t.Helper()
	gadgettest.RequireRoot(t)
	bin = gadgettest.CLI(t)
	e2eStore.once.Do(func() {
		dir := filepath.Join(gadgettest.SharedDir(t), "store")
		gadgettest.BuildImage(t, bin, dir, ".", e2eImage)
		e2eStore.dir = dir // only once the image is in it
	})
	if e2eStore.dir == "" {
		t.Fatal("the trace_exec image could not be built (see the first failing test)")
	}
	return bin, e2eStore.dir
}

// ev is one decoded JSON event.
type ev = gadgettest.Event

// liveRun is a running `gadgetry run trace-exec-test -o json` with its marker binary.
type liveRun struct {
	*gadgettest.CLIRun
	t       *testing.T
	marker  string // a copy of /bin/true whose execs mark points in the stream
	markerN int
}

func randName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// startRun starts gadgetry with args after the image name and returns once the gadget reports
// the execs of a marker binary (so every probe is attached). The run is stopped at test end.
func startRun(t *testing.T, args ...string) *liveRun {
	t.Helper()
	r := startRunUnsynced(t, args...)
	r.sync()
	return r
}

// startRunUnsynced starts gadgetry and returns at once: for runs whose selection hides the
// marker's execs, the caller waits for readiness its own way.
func startRunUnsynced(t *testing.T, args ...string) *liveRun {
	t.Helper()
	bin, store := e2eSetup(t)
	r := &liveRun{t: t}
	r.marker = filepath.Join(realPath(t, t.TempDir()), randName("mark-"))
	copyFile(t, realPath(t, "/bin/true"), r.marker)
	r.CLIRun = gadgettest.StartCLI(t, []string{"GADGETRY_STORE=" + store}, bin, append([]string{"run", e2eImage, "-o", "json"}, args...)...)
	return r
}

// sync execs the marker with a unique argument until its event arrives: every event of an exec
// that completed before sync was called has been read by then (one ring buffer, in order).
func (r *liveRun) sync() {
	r.t.Helper()
	r.markerN++
	tag := fmt.Sprintf("sync-%d", r.markerN)
	r.WaitFor("the marker exec "+tag, func(e ev) bool {
		return e.Str("exepath") == r.marker && slices.Equal(e.List("args"), []string{r.marker, tag})
	}, func() { _ = exec.Command(r.marker, tag).Run() })
}

// ofPid matches the events of one process.
func ofPid(pid int) func(ev) bool {
	return func(e ev) bool { return e.Num("proc.pid") == uint64(pid) }
}

// runChild runs cmd to its end (its exit status does not matter) and returns its pid.
func runChild(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	_ = cmd.Wait()
	return cmd.Process.Pid
}

// TestE2EExec runs trace_exec through gadgetry with default parameters.
func TestE2EExec(t *testing.T) {
	r := startRun(t)
	dir := realPath(t, t.TempDir())

	t.Run("relative path through a symlinked directory", func(t *testing.T) {
		spaced := filepath.Join(dir, "a b")
		if err := os.Mkdir(spaced, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("./ls", "-d", spaced)
		cmd.Dir = "/bin"
		pid := runChild(t, cmd)
		e := r.WaitFor("./ls", ofPid(pid), nil)
		want := map[string]string{"exepath": realPath(t, "/bin/ls"), "file": "./ls", "cwd": realPath(t, "/bin"),
			"proc.comm": "ls", "error": "", "interp": ""}
		for k, v := range want {
			if got := e.Str(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if e.Get("upper_layer") != false { // a tri-state: JSON true, false or null
			t.Errorf("upper_layer = %#v, want false", e.Get("upper_layer"))
		}
		if !slices.Equal(e.List("args"), []string{"./ls", "-d", spaced}) {
			t.Errorf("args = %#v (%T), want a list [./ls -d %s]", e.Get("args"), e.Get("args"), spaced)
		}
		if e.Num("proc.parent.pid") != uint64(os.Getpid()) || e.Str("timestamp") == "" {
			t.Errorf("parent pid %d (want %d), timestamp %q", e.Num("proc.parent.pid"), os.Getpid(), e.Str("timestamp"))
		}
		if _, ok := e.Get("args_size").(float64); ok {
			t.Errorf("args_size is json.skip in gadget.yaml but shows: %s", e)
		}
	})

	t.Run("script with a #! line", func(t *testing.T) {
		script := filepath.Join(dir, "s.sh")
		writeFile(t, script, "#!/bin/sh\nexit 0\n", 0o755)
		pid := runChild(t, exec.Command(script, "one"))
		e := r.WaitFor("the script", ofPid(pid), nil)
		if e.Str("file") != script || e.Str("interp") != "/bin/sh" || e.Str("exepath") != realPath(t, "/bin/sh") {
			t.Errorf("file %q interp %q exepath %q, want %q /bin/sh %q", e.Str("file"), e.Str("interp"), e.Str("exepath"), script, realPath(t, "/bin/sh"))
		}
		if !slices.Equal(e.List("args"), []string{"/bin/sh", script, "one"}) {
			t.Errorf("args %v", e.List("args"))
		}
	})

	t.Run("failed exec is not reported by default", func(t *testing.T) {
		missing := filepath.Join(dir, randName("missing-"))
		cmd := exec.Command(missing)
		if err := cmd.Run(); err == nil {
			t.Fatalf("exec of %s succeeded", missing)
		}
		r.sync()
		if got := r.Matching(func(e ev) bool { return e.Str("file") == missing }); len(got) != 0 {
			t.Errorf("failed exec reported without --ignore-failed=false: %v", got)
		}
	})

	t.Run("memfd is fileless", func(t *testing.T) {
		pid := runChild(t, helperCommand(t, "memfd", ""))
		// The helper's own exec comes first: wait for the second one.
		e := r.WaitFor("the memfd exec", func(e ev) bool { return ofPid(pid)(e) && e.Str("exepath") != e.Str("file") }, nil)
		if e.Str("exepath") != "/memfd:gadgetry-test" || e.Get("fileless") != true || e.Get("upper_layer") != false {
			t.Errorf("memfd exec: %s", e)
		}
	})

	t.Run("empty arguments stay, trailing ones too", func(t *testing.T) {
		pid := runChild(t, exec.Command("/bin/true", "", "x", ""))
		e := r.WaitFor("the exec with empty arguments", ofPid(pid), nil)
		if got, want := e.List("args"), []string{"/bin/true", "", "x", ""}; !slices.Equal(got, want) {
			t.Errorf("args %q, want %q", got, want)
		}
	})

	t.Run("long argv is truncated and says so", func(t *testing.T) {
		args := make([]string, 300)
		for i := range args {
			args[i] = fmt.Sprintf("argument-%010d", i)
		}
		pid := runChild(t, exec.Command("/bin/true", args...))
		e := r.WaitFor("the long exec", ofPid(pid), nil)
		got := e.List("args")
		if e.Get("args_truncated") != true || len(got) < 2 || len(got) >= 301 || got[0] != "/bin/true" || got[1] != args[0] {
			t.Errorf("args_truncated %v, %d args (first %q): want truncated, a prefix of the 301", e.Get("args_truncated"), len(got), got[:min(2, len(got))])
		}
	})

	sum := r.Stop()
	lost, _ := json.Marshal(sum["dataSources"])
	if !strings.Contains(string(lost), `"lost":0`) {
		t.Errorf("summary reports lost events: %v", sum)
	}
	checkBprmWarning(t, r, sum)
}

// checkBprmWarning checks what a run says when no security_bprm_check hook exists here: the
// summary lists the skipped programs, and stderr names the hook.
func checkBprmWarning(t *testing.T, r *liveRun, sum map[string]any) {
	t.Helper()
	skipped, _ := sum["skippedPrograms"].([]any)
	if len(skipped) == 0 {
		return // the kernel has a security_bprm_check hook: nothing to say
	}
	var warnings []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr()), "\n") {
		if strings.HasPrefix(l, "warning:") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) == 0 {
		t.Errorf("programs were skipped (%v) but stderr says nothing:\n%s", skipped, r.Stderr())
	}
	for _, w := range warnings {
		if !strings.Contains(w, "security_bprm_check") {
			t.Errorf("warning does not name the missing hook: %s", w)
		}
	}
	// Once per missing hook, naming what it would have fed: fupper_layer of scripts only (a
	// binary's is its upper_layer).
	if len(warnings) != 1 || !strings.HasSuffix(warnings[0], "; unknown: fupper_layer of scripts") {
		t.Errorf("want one warning naming security_bprm_check and ending in \"unknown: fupper_layer of scripts\", got:\n%s", strings.Join(warnings, "\n"))
	}
}

// TestE2EFailedExecs runs with --ignore-failed=false: failed execs come with their errno name.
func TestE2EFailedExecs(t *testing.T) {
	r := startRun(t, "--ignore-failed=false")
	dir := realPath(t, t.TempDir())
	missing := filepath.Join(dir, "missing")
	notExec := filepath.Join(dir, "noexec")
	writeFile(t, notExec, "data\n", 0o644)
	for _, c := range []struct{ path, errno string }{{missing, "ENOENT"}, {notExec, "EACCES"}} {
		cmd := exec.Command(c.path, "arg one")
		cmd.Dir = dir
		if err := cmd.Start(); err == nil {
			cmd.Wait()
			t.Fatalf("exec of %s succeeded", c.path)
		}
		// Go's os/exec fails in the child after fork: the event's pid is that of a child we never
		// see, so match by the requested path.
		e := r.WaitFor(c.errno+" of "+c.path, func(e ev) bool { return e.Str("file") == c.path }, nil)
		if e.Str("error") != c.errno {
			t.Errorf("%s: error %q, want %s (event %s)", c.path, e.Str("error"), c.errno, e)
		}
		if !slices.Equal(e.List("args"), []string{c.path, "arg one"}) || e.Str("cwd") != dir {
			t.Errorf("%s: args %v cwd %q, want [%s \"arg one\"] %s", c.path, e.List("args"), e.Str("cwd"), c.path, dir)
		}
		if e.Num("proc.parent.pid") != uint64(os.Getpid()) {
			t.Errorf("%s: parent pid %d, want the test's %d", c.path, e.Num("proc.parent.pid"), os.Getpid())
		}
	}
	// A success is still reported once, with no error.
	pid := runChild(t, exec.Command("/bin/true", "ok"))
	r.sync()
	evs := r.Matching(ofPid(pid))
	if len(evs) != 1 || evs[0].Str("error") != "" {
		t.Errorf("successful exec: want one event without error, got %v", evs)
	}
}

// TestE2EOverlayUpperLayer runs binaries from a real overlayfs mount through gadgetry.
func TestE2EOverlayUpperLayer(t *testing.T) {
	r := startRun(t)
	ov := vmtest.MountOverlay(t)
	merged := ov.Merged
	trueBin := realPath(t, "/bin/true")
	copyFile(t, trueBin, filepath.Join(ov.Lower, "lowertrue"))
	copyFile(t, trueBin, filepath.Join(merged, "uppertrue"))
	script := filepath.Join(merged, "s.sh")
	writeFile(t, script, "#!/bin/sh\nexit 0\n", 0o755)

	// Without a security_bprm_check hook (both programs skipped: warned before the run was
	// ready), a script's fupper_layer is unknown (JSON null), never false.
	stderr := r.Stderr()
	var scriptWant any = true
	if strings.Contains(stderr, "no security_bprm_check hook on this kernel") {
		scriptWant = nil
	}
	for _, c := range []struct {
		name, path    string
		upper, fupper any // JSON true, false or null (nil)
	}{
		{"binary from the lower layer", filepath.Join(merged, "lowertrue"), false, false},
		{"binary copied in through the merged dir", filepath.Join(merged, "uppertrue"), true, true},
		{"script in the upper layer run directly", script, false, scriptWant},
	} {
		t.Run(c.name, func(t *testing.T) {
			pid := runChild(t, exec.Command(c.path))
			e := r.WaitFor(c.path, ofPid(pid), nil)
			if e.Str("file") != c.path || e.Get("upper_layer") != c.upper || e.Get("fupper_layer") != c.fupper {
				t.Errorf("file %q upper_layer %#v fupper_layer %#v, want %q %#v %#v", e.Str("file"), e.Get("upper_layer"), e.Get("fupper_layer"), c.path, c.upper, c.fupper)
			}
		})
	}
}

// TestE2EColumnsArgs checks the table: argv is one column, joined by spaces, quoted where a
// shell would need it.
func TestE2EColumnsArgs(t *testing.T) {
	bin, store := e2eSetup(t)
	marker := filepath.Join(realPath(t, t.TempDir()), randName("mark-"))
	copyFile(t, realPath(t, "/bin/true"), marker)
	cmd := exec.Command(bin, "run", e2eImage, "--fields", "proc.pid,args")
	cmd.Env = append(os.Environ(), "GADGETRY_STORE="+store)
	stderr := &gadgettest.SyncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		for range lines {
		}
		_ = cmd.Wait()
	}()
	// waitLine returns the first line match accepts, running poke before each wait.
	var header string
	waitLine := func(what string, match func(string) bool, poke func()) string {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			if poke != nil {
				poke()
			}
			var tick <-chan time.Time
			if poke != nil {
				tick = time.After(100 * time.Millisecond)
			}
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("gadgetry exited before %s; stderr:\n%s", what, stderr)
				}
				if header == "" {
					header = l // printed with the first record
				}
				if match(l) {
					return l
				}
			case <-tick:
			case <-deadline:
				t.Fatalf("no line for %s within a minute; stderr:\n%s", what, stderr)
			}
		}
	}
	// Ready once the marker shows.
	waitLine("the marker", func(l string) bool { return strings.Contains(l, marker) }, func() { _ = exec.Command(marker).Run() })
	if f := strings.Fields(header); !slices.Equal(f, []string{"PROC.PID", "ARGS"}) {
		t.Errorf("header %q, want PROC.PID ARGS", header)
	}
	pid := runChild(t, exec.Command("/bin/true", "a b", "it's", "c"))
	line := waitLine("the exec", func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), fmt.Sprint(pid)+" ") }, nil)
	want := `/bin/true 'a b' 'it'\''s' c`
	if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), fmt.Sprint(pid))); got != want {
		t.Errorf("args column %q, want %q (line %q)", got, want, line)
	}
}
