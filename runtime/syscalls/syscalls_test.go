package syscalls

import (
	"fmt"
	"os"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/syscalls/internal/headers"
)

func ciStrict() bool { return os.Getenv("CI") == "true" }

// TestTablesMatchHeaders reads each architecture's syscalls from the installed headers and
// checks the table agrees on every one.
func TestTablesMatchHeaders(t *testing.T) {
	if _, err := headers.Clang(); err != nil {
		if ciStrict() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, s := range headers.Sources {
		t.Run(s.Arch, func(t *testing.T) {
			if !s.Installed() {
				if ciStrict() && s.Arch == "amd64" {
					t.Fatalf("%s missing: apt-get install %s", s.Probe, s.Package)
				}
				t.Skipf("%s missing (apt-get install %s)", s.Probe, s.Package)
			}
			want, err := s.Syscalls()
			if err != nil {
				t.Fatal(err)
			}
			// The table is generated from newer headers than the installed ones (go generate
			// fetches them): it holds every installed syscall, with the same number, and more.
			tab := ForArch(s.Arch)
			if got := len(tab.Names()); got < len(want) {
				t.Errorf("table has %d syscalls, the installed headers %d: run go generate", got, len(want))
			}
			for name, nr := range want {
				if got, ok := tab.Number(name); !ok || got != nr {
					t.Errorf("%s: table says %d (%v), headers %d", name, got, ok, nr)
				}
				if got, _ := tab.Name(nr); got != name {
					t.Errorf("%d: table says %q, headers %q", nr, got, name)
				}
			}
		})
	}
	errs, err := headers.Sources[0].Errnos()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if got, _ := ErrnoName(e.Value); got != e.Name {
			t.Errorf("errno %d: table says %q, headers %q", e.Value, got, e.Name)
		}
	}
}

func TestKnownNumbers(t *testing.T) {
	for _, c := range []struct {
		arch, name string
		nr         int
	}{
		{"amd64", "read", 0}, {"amd64", "openat", 257}, {"amd64", "execve", 59}, {"amd64", "open", 2},
		{"arm64", "openat", 56}, {"arm64", "execve", 221}, {"arm64", "fcntl", 25}, {"aarch64", "clone3", 435},
	} {
		tab := ForArch(c.arch)
		if nr, ok := tab.Number(c.name); !ok || nr != c.nr {
			t.Errorf("%s %s = %d %v, want %d", c.arch, c.name, nr, ok, c.nr)
		}
	}
	if _, ok := ForArch("arm64").Number("open"); ok {
		t.Error("arm64 has no open syscall")
	}
	if ForArch("riscv64") != nil {
		t.Error("riscv64 table")
	}
	if _, ok := ForArch("amd64").Name(100000); ok {
		t.Error("name of 100000")
	}
	if _, ok := ForArch("amd64").Name(-1); ok {
		t.Error("name of -1")
	}
	if n, _ := ErrnoName(2); n != "ENOENT" {
		t.Error(n)
	}
	if m, _ := ErrnoMessage(2); m != "no such file or directory" {
		t.Error(m)
	}
}

func TestRunningKernel(t *testing.T) {
	tab, err := Running()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := kernelArch()
	t.Logf("kernel %s → table %s", m, tab.Arch())
	if nr, ok := Number("openat"); !ok {
		t.Fatal("openat unknown")
	} else if n, _ := Name(nr); n != "openat" {
		t.Fatalf("round trip: %q", n)
	}
	if len(Names()) < 250 {
		t.Fatal(len(Names()))
	}
}

func TestDeclare(t *testing.T) {
	d, err := Declare("openat")
	if err == ErrNoTracefs {
		if ciStrict() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Params) != 4 || d.Params[1].Name != "filename" || !d.Params[1].Pointer() || d.Params[1].Type != "const char *" {
		t.Fatalf("%+v", d)
	}
	if _, err := Declare("no_such_syscall"); err == nil {
		t.Fatal("unknown syscall declared")
	}
	if _, err := Declare("../x"); err == nil {
		t.Fatal("path accepted")
	}
}

func TestParseFormat(t *testing.T) {
	d, err := parseFormat("x", "format:\n\tfield:int __syscall_nr;\toffset:8;\n\tfield:unsigned long addr;\toffset:16;\n\tfield:char *const * argv;\toffset:24;\n")
	if err != nil || len(d.Params) != 2 || d.Params[0] != (Param{"addr", "unsigned long"}) || d.Params[1].Type != "char *const *" {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := parseFormat("x", "garbage"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func ExampleForArch() {
	nr, _ := ForArch("arm64").Number("openat")
	name, _ := ForArch("amd64").Name(59)
	fmt.Println(nr, name)
	// Output: 56 execve
}
