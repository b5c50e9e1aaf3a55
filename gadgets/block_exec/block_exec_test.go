package blockexec_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestContainers runs policies on real runc containers: sel, the selected one, and other, which
// no policy selects. Both have an overlay root filesystem (their image in the lower layer) and
// live through all the subtests, which start one gadgetry run each.
func TestContainers(t *testing.T) {
	env := runc.NewEnv(t)
	sel := startContainer(t, env, randName("sel-"))
	other := startContainer(t, env, randName("other-"))
	policy := func(args ...string) []string {
		return append([]string{"-c", sel.name, "--runc-root", env.Root}, args...)
	}
	t.Run("deny a shell", func(t *testing.T) { testDenyShell(t, policy, sel, other, false) })
	t.Run("kill asked for", func(t *testing.T) {
		testDenyShell(t, func(args ...string) []string { return policy(append(args, "--mechanism=kill")...) }, sel, other, true)
	})
	t.Run("scripts", func(t *testing.T) { testScripts(t, policy, sel) })
	t.Run("deny upper layer", func(t *testing.T) { testDenyUpperLayer(t, policy, sel) })
	t.Run("allowlist", func(t *testing.T) { testAllowlist(t, policy, sel) })
	t.Run("audit", func(t *testing.T) { testAudit(t, policy, sel) })
	t.Run("exit paths", func(t *testing.T) { testExitPaths(t, policy, sel) })
}

// testDenyShell: a shell in sel is stopped (EPERM under lsm, SIGKILL under kill), while the same
// shell runs, at the same time, on the host and in other; a shell of sel that tries it goes on
// under lsm. Each stop is an event naming the container, the process, the rule and how it was
// stopped.
func testDenyShell(t *testing.T, policy func(...string) []string, sel, other *container, forceKill bool) {
	mech := mechanism()
	if forceKill {
		mech = "kill"
	}
	r := run(t, policy("--deny-paths=/bin/sh,/bin/marker")...)
	ready(t, r, sel)
	checkFirstWarning(t, r, mech, forceKill)

	// The host and the other container run /bin/sh many times while sel's shells are stopped.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if err := exec.Command("/bin/sh", "-c", "exit 0").Run(); err != nil {
				fail("host /bin/sh: %s", outcome(err))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if out, how := other.exec(t, "/bin/sh", "-c", "exit 0"); how != "ran" {
				fail("/bin/sh in the unselected container: %s: %s", how, out)
			}
		}
	}()
	for i := 0; i < 5; i++ {
		if out, how := sel.exec(t, "/bin/sh", "-c", "exit 0"); how != stopped(mech) {
			t.Errorf("/bin/sh in %s: %s, want %s: %s", sel.name, how, stopped(mech), out)
		}
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}

	e := r.WaitFor("the /bin/sh exec in "+sel.name, inContainer(sel, "/bin/sh"), nil)
	checkEvent(t, e, map[string]string{
		"runtime.containerName": sel.name, "runtime.containerId": sel.ID, "exepath": "/bin/busybox",
		"rule": "deny-paths=/bin/sh", "matched": "file", "action": action(mech), "mechanism": mech,
	})
	if !slices.Equal(e.List("args"), []string{"/bin/sh", "-c", "exit 0"}) {
		t.Errorf("args %q, want [/bin/sh -c exit 0]", e.List("args"))
	}
	if e.Num("proc.pid") == 0 || e.Num("proc.parent.pid") == 0 {
		t.Errorf("no pid or parent pid: %s", e)
	}

	// A shell already running in sel tries /bin/sh: under lsm it is refused and the shell
	// goes on (it prints the error, status 126); under kill the new program dies (137).
	out, how := sel.exec(t, "/bin/busybox", "sh", "-c", `/bin/sh -c "exit 0"; echo "status=$?"`)
	want := map[string]string{"lsm": "status=126", "kill": "status=137"}[mech]
	if how != "ran" || !strings.Contains(out, want) {
		t.Errorf("a shell running /bin/sh in %s: %s, output %q, want it to go on and print %s", sel.name, how, out, want)
	}

	sum := r.Stop()
	for _, e := range r.Matching(func(gadgettest.Event) bool { return true }) {
		if e.Str("runtime.containerName") != sel.name {
			t.Errorf("a decision outside the selection: %s", e)
		}
	}
	if c, _ := sum["choices"].(map[string]any); c["mechanism"] != mech {
		t.Errorf("summary choices %v, want mechanism %s", sum["choices"], mech)
	}
}

// testScripts: a script is stopped through the interpreter its #! line names (/bin/sh), and a
// script's own path is a rule too.
func testScripts(t *testing.T, policy func(...string) []string, c *container) {
	gadgettest.WriteFile(t, filepath.Join(c.ov.Merged, "bin/other.sh"), "#!/bin/busybox sh\nexit 0\n", 0o755)
	r := run(t, policy("--deny-paths=/bin/sh,/bin/marker,/bin/other.sh")...)
	ready(t, r, c)

	if out, how := c.exec(t, "/bin/script.sh"); how != stopped() {
		t.Errorf("#!/bin/sh script: %s, want %s: %s", how, stopped(), out)
	}
	e := r.WaitFor("the #!/bin/sh script", inContainer(c, "/bin/script.sh"), nil)
	checkEvent(t, e, map[string]string{"rule": "deny-paths=/bin/sh", "matched": "interp", "interp": "/bin/sh", "exepath": "/bin/busybox"})

	// The script's own path: under lsm its own check stops it (exepath, the script itself);
	// under kill, the path it was run as.
	if out, how := c.exec(t, "/bin/other.sh"); how != stopped() {
		t.Errorf("script named in the deny list: %s, want %s: %s", how, stopped(), out)
	}
	e = r.WaitFor("the listed script", inContainer(c, "/bin/other.sh"), nil)
	want := map[string]string{"lsm": "exepath", "kill": "file"}[mechanism()]
	checkEvent(t, e, map[string]string{"rule": "deny-paths=/bin/other.sh", "matched": want})

	if out, how := c.exec(t, "/bin/busybox", "true"); how != "ran" {
		t.Errorf("busybox true: %s: %s", how, out)
	}
}

// testDenyUpperLayer: binaries and scripts written into the container after it started (its
// overlay's upper layer) are stopped; its image's binaries run.
func testDenyUpperLayer(t *testing.T, policy func(...string) []string, c *container) {
	r := run(t, policy("--deny-upper-layer")...)
	// A binary dropped in after the start: the marker of this policy.
	gadgettest.CopyExecutable(t, filepath.Join(c.ov.Lower, "bin/busybox"), filepath.Join(c.ov.Merged, "bin/dropped"))
	r.WaitFor("the dropped binary", inContainer(c, "/bin/dropped"), func() { c.exec(t, "/bin/dropped", "true") })
	checkFirstWarning(t, r, mechanism(), false)

	if out, how := c.exec(t, "/bin/dropped", "true"); how != stopped() {
		t.Errorf("binary in the upper layer: %s, want %s: %s", how, stopped(), out)
	}
	e := r.WaitFor("the dropped binary", inContainer(c, "/bin/dropped"), nil)
	checkEvent(t, e, map[string]string{"rule": "deny-upper-layer", "matched": "exepath", "exepath": "/bin/dropped", "action": action()})
	if e.Get("upper_layer") != true {
		t.Errorf("upper_layer %v, want true", e.Get("upper_layer"))
	}
	for _, argv := range [][]string{{"/bin/true"}, {"/bin/busybox", "true"}, {"/bin/script.sh"}} {
		if out, how := c.exec(t, argv...); how != "ran" {
			t.Errorf("%v from the image (lower layer): %s: %s", argv, how, out)
		}
	}

	// A script written into the container, run by the image's /bin/sh: the script itself is in
	// the upper layer. Under lsm its own check sees it; under kill the script is gone by the
	// time the kernel runs the hook (replaced by its interpreter, from the lower layer), so it
	// runs: README.md says so.
	gadgettest.WriteFile(t, filepath.Join(c.ov.Merged, "bin/new.sh"), "#!/bin/sh\nexit 0\n", 0o755)
	out, how := c.exec(t, "/bin/new.sh")
	if mechanism() == "lsm" {
		if how != "denied" {
			t.Errorf("script in the upper layer: %s, want denied: %s", how, out)
		}
		e := r.WaitFor("the upper-layer script", inContainer(c, "/bin/new.sh"), nil)
		checkEvent(t, e, map[string]string{"rule": "deny-upper-layer", "exepath": "/bin/new.sh"})
	} else if how != "ran" {
		t.Errorf("script in the upper layer under kill: %s (the kill mechanism cannot see it; README says it runs): %s", how, out)
	}
	// A script whose interpreter was dropped in is stopped by either mechanism.
	gadgettest.WriteFile(t, filepath.Join(c.ov.Merged, "bin/dropped.sh"), "#!/bin/dropped sh\nexit 0\n", 0o755)
	if out, how := c.exec(t, "/bin/dropped.sh"); how != stopped() {
		t.Errorf("script run by a dropped interpreter: %s, want %s: %s", how, stopped(), out)
	}
}

// testAllowlist: only the listed executables run.
func testAllowlist(t *testing.T, policy func(...string) []string, c *container) {
	r := run(t, policy("--allow-paths=/bin/busybox")...)
	e := ready(t, r, c) // /bin/marker is busybox under another name: not listed
	checkEvent(t, e, map[string]string{"rule": "allow-paths", "matched": "exepath", "exepath": "/bin/marker", "action": action()})
	for _, argv := range [][]string{{"/bin/true"}, {"/bin/sh", "-c", "exit 0"}, {"/bin/busybox", "true"}} {
		if out, how := c.exec(t, argv...); how != "ran" {
			t.Errorf("%v (busybox, listed): %s: %s", argv, how, out)
		}
	}
	if out, how := c.exec(t, "/bin/marker", "true"); how != stopped() {
		t.Errorf("unlisted binary: %s, want %s: %s", how, stopped(), out)
	}
	// A script must be listed itself, whatever its interpreter.
	if out, how := c.exec(t, "/bin/script.sh"); how != stopped() {
		t.Errorf("unlisted script: %s, want %s: %s", how, stopped(), out)
	}
	e = r.WaitFor("the unlisted script", inContainer(c, "/bin/script.sh"), nil)
	want := map[string]string{"lsm": "exepath", "kill": "file"}[mechanism()]
	checkEvent(t, e, map[string]string{"rule": "allow-paths", "matched": want})
}

// testAudit: --mode=audit stops nothing and reports what it would have stopped.
func testAudit(t *testing.T, policy func(...string) []string, c *container) {
	r := run(t, policy("--deny-paths=/bin/sh,/bin/marker", "--mode=audit")...)
	ready(t, r, c)
	if out, how := c.exec(t, "/bin/sh", "-c", "exit 0"); how != "ran" {
		t.Errorf("/bin/sh in audit mode: %s: %s", how, out)
	}
	e := r.WaitFor("the audited /bin/sh", inContainer(c, "/bin/sh"), nil)
	checkEvent(t, e, map[string]string{"action": "audited", "rule": "deny-paths=/bin/sh", "mechanism": mechanism()})
}

// TestMatching runs a host policy (--host) on the files of a temporary directory only:
// canonical paths, the path as requested, #! interpreters, and globs in the last component.
func TestMatching(t *testing.T) {
	dir := gadgettest.RealPath(t, t.TempDir())
	trueBin := gadgettest.RealPath(t, "/bin/true")
	for _, n := range []string{"ready", "ash", "bash", "xsh.bak", "python3", "python3.11", "pyth",
		"a", "ab", "abc", "aXbYc", "abcab", "cba", "exact", "exact2"} {
		gadgettest.CopyExecutable(t, trueBin, filepath.Join(dir, n))
	}
	other := gadgettest.RealPath(t, t.TempDir())
	if err := os.Symlink(filepath.Join(dir, "ash"), filepath.Join(other, "innocent")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(trueBin, filepath.Join(other, "exact")); err != nil {
		t.Fatal(err)
	}
	// A #! line naming a symlink: the interpreter's canonical path (xsh.bak) is not listed,
	// the name the script gives is.
	if err := os.Symlink(filepath.Join(dir, "xsh.bak"), filepath.Join(other, "interp")); err != nil {
		t.Fatal(err)
	}
	gadgettest.WriteFile(t, filepath.Join(other, "script"), "#!"+filepath.Join(other, "interp")+"\n", 0o755)
	r := run(t, "--host", "--deny-paths="+strings.Join([]string{
		dir + "/ready", dir + "/*sh", dir + "/python3*", dir + "/a*b*c", dir + "/exact",
		other + "/exact", other + "/interp",
	}, ","))
	ready := filepath.Join(dir, "ready")
	r.WaitFor("the ready marker", func(e gadgettest.Event) bool { return e.Str("exepath") == ready },
		func() { _ = exec.Command(ready).Run() })

	for _, c := range []struct {
		path, how, rule, matched string
	}{
		{dir + "/ash", stopped(), dir + "/*sh", "exepath"},
		{dir + "/bash", stopped(), dir + "/*sh", "exepath"},
		{dir + "/xsh.bak", "ran", "", ""},
		{dir + "/python3", stopped(), dir + "/python3*", "exepath"},
		{dir + "/python3.11", stopped(), dir + "/python3*", "exepath"},
		{dir + "/a", "ran", "", ""},
		{dir + "/ab", "ran", "", ""},
		{dir + "/abc", stopped(), dir + "/a*b*c", "exepath"},
		{dir + "/aXbYc", stopped(), dir + "/a*b*c", "exepath"},
		{dir + "/abcab", "ran", "", ""},
		{dir + "/cba", "ran", "", ""},
		{dir + "/exact", stopped(), dir + "/exact", "exepath"},
		{dir + "/exact2", "ran", "", ""},
		// A symlink is matched by its target's canonical path...
		{other + "/innocent", stopped(), dir + "/*sh", "exepath"},
		// ...and by the name it was run as.
		{other + "/exact", stopped(), other + "/exact", "file"},
		// A script is matched through its #! interpreter.
		{other + "/script", stopped(), other + "/interp", "interp"},
	} {
		err := exec.Command(c.path).Run()
		if got := outcome(err); got != c.how {
			t.Errorf("%s: %s, want %s", c.path, got, c.how)
		}
		if c.rule == "" {
			continue
		}
		e := r.WaitFor(c.path, func(e gadgettest.Event) bool { return e.Str("file") == c.path }, nil)
		checkEvent(t, e, map[string]string{"rule": "deny-paths=" + c.rule, "matched": c.matched})
	}
	r.Stop()
	// Nothing but the files above was stopped: the policy applied to the whole host.
	for _, e := range r.Matching(func(gadgettest.Event) bool { return true }) {
		if f := e.Str("file"); !strings.HasPrefix(f, dir+"/") && !strings.HasPrefix(f, other+"/") {
			t.Errorf("stopped an exec outside the test's files: %s", e)
		}
	}
}
