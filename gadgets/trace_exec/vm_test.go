package traceexec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestVMUpperLayer is the overlayfs test that also runs in the vmtest kernels (busybox
// userland): binaries and scripts from the lower and the upper layer. Where the kernel has
// kprobes or trampolines, security_bprm_check tells whether a script itself is in the upper
// layer; elsewhere (this project's host) fupper_layer of a script must say "unknown".
func TestVMUpperLayer(t *testing.T) {
	var hooks []string
	if kernel.Have(kernel.Fentry) == nil {
		hooks = append(hooks, "fentry")
	}
	if kernel.Have(kernel.Kprobe) == nil {
		hooks = append(hooks, "kprobe")
	}
	if len(hooks) == 0 {
		hooks = append(hooks, "none")
	}
	for _, hook := range hooks {
		t.Run("hook="+hook, func(t *testing.T) { testUpperLayer(t, hook) })
	}
}

func testUpperLayer(t *testing.T, hook string) {
	tr := startTracer(t, tracerOptions{ignoreFailed: true, keepOptional: hook != "none", onlyHook: hook})
	if hook != "none" && tr.bprmHook != hook {
		t.Fatalf("kernel %s has %s, yet the %s security_bprm_check program did not attach", kernel.Release(), hook, hook)
	}
	upperScriptWant, lowerScriptWant := "unknown", "unknown"
	if tr.bprmHook != "" {
		upperScriptWant, lowerScriptWant = "yes", "no"
		t.Logf("security_bprm_check hook: %s", tr.bprmHook)
	}

	ov := vmtest.MountOverlay(t)
	sh := realPath(t, "/bin/sh")
	for _, d := range []string{filepath.Join(ov.Lower, "l"), filepath.Join(ov.Merged, "u")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, sh, filepath.Join(ov.Lower, "l", "sh"))
	writeFile(t, filepath.Join(ov.Lower, "l", "script"), "#!/bin/sh\nexit 0\n", 0o755)
	copyFile(t, sh, filepath.Join(ov.Merged, "u", "sh"))
	writeFile(t, filepath.Join(ov.Merged, "u", "script"), "#!/bin/sh\nexit 0\n", 0o755)
	lowerSh, upperSh := filepath.Join(ov.Merged, "l", "sh"), filepath.Join(ov.Merged, "u", "sh")
	lowerScript, upperScript := filepath.Join(ov.Merged, "l", "script"), filepath.Join(ov.Merged, "u", "script")

	for _, c := range []struct {
		name          string
		argv          []string
		exe           string
		upper, fupper string
	}{
		{"binary in the lower layer", []string{lowerSh, "-c", "exit 0"}, lowerSh, "no", "no"},
		{"binary written through the merged dir", []string{upperSh, "-c", "exit 0"}, upperSh, "yes", "yes"},
		{"script in the upper layer", []string{upperScript}, sh, "no", upperScriptWant},
		{"script in the lower layer", []string{lowerScript}, sh, "no", lowerScriptWant},
		{"upper script as an argument of /bin/sh", []string{"/bin/sh", upperScript}, sh, "no", "no"},
		{"upper interpreter running a lower script", []string{upperSh, lowerScript}, upperSh, "yes", "yes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pid := run(t, exec.Command(c.argv[0], c.argv[1:]...))
			e := execOf(t, tr.snapshot(), pid, c.exe)
			if e.Upper != c.upper || e.FUpper != c.fupper {
				t.Errorf("%q: upper_layer %s fupper_layer %s, want %s %s", c.argv, e.Upper, e.FUpper, c.upper, c.fupper)
			}
		})
	}

	t.Run("parent binary in the upper layer", func(t *testing.T) {
		pid := run(t, exec.Command(upperSh, "-c", "/bin/sh -c 'exit 0' parent-upper; exit 0"))
		var child []event
		for _, e := range tr.snapshot() {
			if e.ParentPid == uint32(pid) && slices.Contains(e.Args, "parent-upper") {
				child = append(child, e)
			}
		}
		if len(child) != 1 {
			t.Fatalf("want 1 exec by a child of %d, got %+v", pid, child)
		}
		if child[0].PUpper != "yes" || child[0].Upper != "no" {
			t.Errorf("pupper_layer %s upper_layer %s, want yes no", child[0].PUpper, child[0].Upper)
		}
	})

	if lost := tr.lost(t); lost != 0 {
		t.Errorf("%d events lost", lost)
	}
}
