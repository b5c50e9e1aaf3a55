package syscalls

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Param is one parameter of a syscall as the kernel's tracepoint describes it.
type Param struct {
	// Name is the parameter's name, e.g. "filename".
	Name string
	// Type is its C type, e.g. "const char *".
	Type string
}

// Pointer reports whether the parameter is a pointer.
func (p Param) Pointer() bool { return strings.HasSuffix(p.Type, "*") }

// Declaration is a syscall's name and parameters.
type Declaration struct {
	Name   string
	Params []Param
}

// ErrNoTracefs is returned by Declare when tracefs is not mounted.
var ErrNoTracefs = errors.New("tracefs not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing (mount -t tracefs nodev /sys/kernel/tracing)")

// tracefsRoots are the places tracefs is commonly mounted.
var tracefsRoots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

type declResult struct {
	d   Declaration
	err error
}

var (
	declMu    sync.Mutex
	declCache = map[string]declResult{}
)

// Declare returns the declaration of syscall name from the kernel's tracefs
// (events/syscalls/sys_enter_<name>/format). Each name is read once per process.
func Declare(name string) (Declaration, error) {
	declMu.Lock()
	defer declMu.Unlock()
	if r, ok := declCache[name]; ok {
		return r.d, r.err
	}
	d, err := readDeclaration(name)
	declCache[name] = declResult{d, err}
	return d, err
}

func readDeclaration(name string) (Declaration, error) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return Declaration{}, fmt.Errorf("syscall declaration: invalid name %q", name)
	}
	root := ""
	for _, r := range tracefsRoots {
		if _, err := os.Stat(filepath.Join(r, "events")); err == nil {
			root = r
			break
		}
	}
	if root == "" {
		return Declaration{}, ErrNoTracefs
	}
	path := filepath.Join(root, "events", "syscalls", "sys_enter_"+name, "format")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Declaration{}, fmt.Errorf("syscall %q: no tracepoint %s (unknown syscall, or kernel without CONFIG_FTRACE_SYSCALLS)", name, path)
	}
	if err != nil {
		return Declaration{}, fmt.Errorf("syscall %q: %w", name, err)
	}
	return parseFormat(name, string(b))
}

// parseFormat parses a sys_enter_* format file: the fields after __syscall_nr are the
// parameters.
func parseFormat(name, format string) (Declaration, error) {
	d := Declaration{Name: name}
	seenNr := false
	for _, line := range strings.Split(format, "\n") {
		line = strings.TrimSpace(line)
		decl, ok := strings.CutPrefix(line, "field:")
		if !ok {
			continue
		}
		decl, _, _ = strings.Cut(decl, ";")
		decl = strings.TrimSpace(decl)
		i := strings.LastIndexAny(decl, " *")
		if i < 0 {
			continue
		}
		pname, ptype := decl[i+1:], strings.TrimSpace(decl[:i+1])
		if pname == "__syscall_nr" {
			seenNr = true
			continue
		}
		if seenNr {
			d.Params = append(d.Params, Param{Name: pname, Type: ptype})
		}
	}
	if !seenNr {
		return Declaration{}, fmt.Errorf("syscall %q: tracefs format has no __syscall_nr field", name)
	}
	return d, nil
}
