package syscalls

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/syscalls/internal/headers"
)

// TestTablesMatchKernel checks the syscalls the table has beyond the installed headers (those
// of the newer Debian headers and gen's hand-written list) against the running kernel. For each
// one the kernel has a tracepoint for (tracefs events/syscalls/sys_enter_<name>), it calls the
// table's number with every argument -1, from a locked thread, with only that event enabled in a
// private tracefs instance filtered to the thread, and expects the kernel to report
// sys_<name>. Every syscall checked fails on such arguments (invalid flags, fd or pointer)
// before doing anything.
func TestTablesMatchKernel(t *testing.T) {
	if goruntime.GOARCH != "amd64" && goruntime.GOARCH != "arm64" {
		t.Skipf("no table for %s", goruntime.GOARCH)
	}
	if os.Geteuid() != 0 {
		if ciStrict() {
			t.Fatal("needs root to use tracefs (CI=true)")
		}
		t.Skip("needs root to use tracefs")
	}
	tracefs := "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(tracefs, "events", "syscalls")); err != nil {
		if ciStrict() {
			t.Fatalf("no syscall tracepoints in %s (scripts/setup.sh mounts tracefs): %v", tracefs, err)
		}
		t.Skipf("no syscall tracepoints in %s: %v", tracefs, err)
	}
	var src headers.Source
	for _, s := range headers.Sources {
		if s.Arch == goruntime.GOARCH {
			src = s
		}
	}
	installed := map[string]int{}
	if src.Installed() {
		var err error
		if installed, err = src.Syscalls(); err != nil {
			t.Fatal(err)
		}
	}
	maxInstalled := 0
	for _, nr := range installed {
		maxInstalled = max(maxInstalled, nr)
	}
	inst := filepath.Join(tracefs, "instances", fmt.Sprintf("gadgetry-syscalls-%d", os.Getpid()))
	if err := os.Mkdir(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(inst) // rmdir of an instance frees it

	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	write := func(file, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inst, file), []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	write("set_event_pid", fmt.Sprint(unix.Gettid()))
	tab := ForArch(goruntime.GOARCH)
	checked := 0
	for _, name := range tab.Names() {
		nr, _ := tab.Number(name)
		if nr <= maxInstalled {
			continue
		}
		event := filepath.Join("events", "syscalls", "sys_enter_"+name)
		if _, err := os.Stat(filepath.Join(inst, event)); err != nil {
			t.Logf("%s (%d): this kernel has no tracepoint for it", name, nr)
			continue
		}
		write("trace", "")
		write(filepath.Join(event, "enable"), "1")
		const bad = ^uintptr(0)
		_, _, errno := unix.Syscall6(uintptr(nr), bad, bad, bad, bad, bad, bad)
		write(filepath.Join(event, "enable"), "0")
		out, err := os.ReadFile(filepath.Join(inst, "trace"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), " sys_"+name+"(") {
			t.Errorf("syscall %d (table: %s, returned %v): the kernel's sys_enter_%s did not fire:\n%s", nr, name, errno, name, out)
		}
		checked++
	}
	t.Logf("checked %d syscalls beyond the installed headers (up to %d) against the kernel", checked, maxInstalled)
}
