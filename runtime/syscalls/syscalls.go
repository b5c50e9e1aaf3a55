package syscalls

import (
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// Table is the syscall table of one architecture.
type Table struct {
	arch    string
	names   []string
	numbers map[string]int
}

func newTable(arch string, names []string) *Table {
	t := &Table{arch: arch, names: names, numbers: make(map[string]int, len(names))}
	for nr, n := range names {
		if n != "" {
			t.numbers[n] = nr
		}
	}
	return t
}

var (
	amd64Table = sync.OnceValue(func() *Table { return newTable("amd64", amd64Names[:]) })
	arm64Table = sync.OnceValue(func() *Table { return newTable("arm64", arm64Names[:]) })
)

// ForArch returns the table of arch ("amd64" or "arm64"; "x86_64" and "aarch64" are accepted
// too), or nil for another architecture.
func ForArch(arch string) *Table {
	switch arch {
	case "amd64", "x86_64":
		return amd64Table()
	case "arm64", "aarch64":
		return arm64Table()
	}
	return nil
}

// Arch returns the architecture the table describes ("amd64" or "arm64").
func (t *Table) Arch() string { return t.arch }

// Name returns the name of syscall nr ("openat"), and false when nr is not a syscall.
func (t *Table) Name(nr int) (string, bool) {
	if nr < 0 || nr >= len(t.names) || t.names[nr] == "" {
		return "", false
	}
	return t.names[nr], true
}

// Number returns the number of the syscall called name, and false when there is none.
func (t *Table) Number(name string) (int, bool) {
	nr, ok := t.numbers[name]
	return nr, ok
}

// Names returns every syscall name of the table, sorted.
func (t *Table) Names() []string {
	out := make([]string, 0, len(t.numbers))
	for n := range t.numbers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// kernelArch returns the Go name of the running kernel's architecture.
var kernelArch = sync.OnceValues(func() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Machine[:]), nil
})

// Running returns the table of the running kernel's architecture. It fails on a kernel that
// is neither x86_64 nor aarch64.
func Running() (*Table, error) {
	m, err := kernelArch()
	if err != nil {
		return nil, err
	}
	t := ForArch(m)
	if t == nil {
		return nil, fmt.Errorf("no syscall table for kernel architecture %q (supported: x86_64, aarch64)", m)
	}
	return t, nil
}

// Name returns the name of syscall nr on the running kernel's architecture.
func Name(nr int) (string, bool) {
	t, err := Running()
	if err != nil {
		return "", false
	}
	return t.Name(nr)
}

// Number returns the number of the syscall called name on the running kernel's architecture.
func Number(name string) (int, bool) {
	t, err := Running()
	if err != nil {
		return 0, false
	}
	return t.Number(name)
}

// Names returns the sorted syscall names of the running kernel's architecture.
func Names() []string {
	t, err := Running()
	if err != nil {
		return nil
	}
	return t.Names()
}

// ErrnoName returns the Linux name of errno value n ("ENOENT"), and false for an unknown value.
func ErrnoName(n int) (string, bool) {
	if n <= 0 || n >= len(errnoNames) || errnoNames[n].name == "" {
		return "", false
	}
	return errnoNames[n].name, true
}

// ErrnoMessage returns the Linux message of errno value n ("no such file or directory").
func ErrnoMessage(n int) (string, bool) {
	if n <= 0 || n >= len(errnoNames) || errnoNames[n].name == "" {
		return "", false
	}
	return errnoNames[n].msg, true
}
