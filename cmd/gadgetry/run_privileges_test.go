package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// nobody is the user the dropped-privileges runs use.
const nobody = 65534

// TestRunWithoutPrivileges runs gadgetry as nobody (a child with dropped privileges) and checks
// that a run says, before it reads, creates or loads anything, what loading eBPF needs: no
// store or cache is created in its home, and the error is neither cilium's MEMLOCK advice nor
// a kernel blamed for tp_btf. With CAP_BPF and CAP_PERFMON a gadget whose programs attach
// through tracefs is told what else it needs; one whose programs do not (traceloop) starts.
func TestRunWithoutPrivileges(t *testing.T) {
	gadgettest.RequireRoot(t)
	// The binary and a home nobody can use.
	dir, err := os.MkdirTemp("", "gadgetry-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home := filepath.Join(dir, "home")
	bin := filepath.Join(dir, "gadgetry")
	gadgettest.CopyExecutable(t, runTestBinary(t), bin)
	for _, d := range []string{dir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	run := func(caps []uintptr, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}, AmbientCaps: caps}
		out, err := cmd.CombinedOutput()
		return string(out), exitStatusOf(err)
	}
	const needs = "Error: loading eBPF needs root or CAP_BPF+CAP_PERFMON (+CAP_DAC_OVERRIDE for tracepoints and kprobes, which attach through tracefs); gadgetry runs as user nobody (uid 65534) without them: run it as root (sudo)\n"
	for _, g := range []string{"trace_exec", "traceloop", "block_exec"} {
		out, status := run(nil, "run", g, "-t", "1")
		if status != 1 || out != needs {
			t.Errorf("run %s as nobody: exit %d, output:\n%q\nwant 1 and\n%q", g, status, out, needs)
		}
	}
	if ents, _ := os.ReadDir(home); len(ents) != 0 {
		t.Errorf("runs without privileges created %v in their home", ents)
	}
	// --help needs no privilege.
	if out, status := run(nil, "run", "trace_exec", "--help"); status != 0 || !strings.Contains(out, "Gadget parameters:") {
		t.Errorf("run trace_exec --help as nobody: exit %d:\n%s", status, out)
	}
	// With CAP_BPF and CAP_PERFMON: what trace_exec's kprobe needs besides, by name.
	const capPerfmon, capBPF = 38, 39
	caps := []uintptr{capPerfmon, capBPF}
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil {
		out, status := run(caps, "run", "trace_exec", "-t", "1")
		want := "Error: loading eBPF needs root or CAP_BPF+CAP_PERFMON (+CAP_DAC_OVERRIDE for bprm_check_kprobe (kprobe), which attach through tracefs at /sys/kernel/tracing); gadgetry runs as user nobody (uid 65534) with CAP_BPF+CAP_PERFMON but cannot open /sys/kernel/tracing: run it as root (sudo) or add CAP_DAC_OVERRIDE\n"
		if status != 1 || out != want {
			t.Errorf("run trace_exec with CAP_BPF+CAP_PERFMON: exit %d, output:\n%q\nwant 1 and\n%q", status, out, want)
		}
	}
	if out, status := run(caps, "run", "traceloop", "-t", "0.1", "-o", "json", "--comm", "nothingrunsthis"); status != 0 {
		t.Errorf("run traceloop with CAP_BPF+CAP_PERFMON: exit %d:\n%s", status, out)
	}
}
