package attach

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Program kinds Inspektor Gadget's gadgets also use (gadget-abi §3):
//
//	socket, socket1, socket/<x>      a socket filter, run on every packet of the network
//	                                 namespace (a raw packet socket carries it)
//	classifier/<ingress|egress>/<n>  a tc classifier, on every network interface of the
//	                                 namespace (tcx); it must return TC_ACT_UNSPEC to let the
//	                                 packet go on
//	uprobe/<lib>:<sym>               a uprobe where <lib> is a short library name ("libc",
//	                                 "libcrypto"), found on the library search path
const (
	SocketFilter Kind = "socket"
	Classifier   Kind = "classifier"
)

// attachSocketFilter runs prog on the packets of the calling thread's network namespace: an
// AF_PACKET socket for every protocol carries the filter, and is closed on detach. Nothing is
// read from the socket; a filter that returns 0 (as a tracing filter does) queues nothing.
func attachSocketFilter(prog *ebpf.Program) (*multiLink, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("opening a packet socket for the socket filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD()); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attaching the socket filter (SO_ATTACH_BPF): %w", err)
	}
	// Keep what a filter returning non-zero would queue small.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	return &multiLink{closers: []func() error{func() error { return unix.Close(fd) }}}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// attachClassifier attaches prog on every network interface of the calling thread's network
// namespace, on the ingress or egress side dir names (tcx, Linux 6.6). Interfaces that
// appear later are not covered.
func attachClassifier(dir string, prog *ebpf.Program) (*multiLink, error) {
	var at ebpf.AttachType
	switch dir {
	case "ingress":
		at = ebpf.AttachTCXIngress
	case "egress":
		at = ebpf.AttachTCXEgress
	default:
		return nil, fmt.Errorf("classifier section: direction %q, want classifier/ingress/<name> or classifier/egress/<name>", dir)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	ml := &multiLink{}
	for _, ifc := range ifaces {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: at})
		if err != nil {
			ml.Close()
			if errors.Is(err, ebpf.ErrNotSupported) {
				return nil, lacks{fmt.Errorf("tcx (Linux 6.6) on %s: %w", ifc.Name, err)}
			}
			return nil, fmt.Errorf("attaching the classifier to %s %s: %w", ifc.Name, dir, err)
		}
		ml.links = append(ml.links, l)
	}
	if len(ml.links) == 0 {
		return nil, fmt.Errorf("attaching the classifier: no network interface")
	}
	return ml, nil
}

// multiLink is several attachments (or resources) that end together. It is a link.Link by
// embedding one (left nil: its unexported method is never called); every exported method is
// its own.
type multiLink struct {
	link.Link
	links   []link.Link
	closers []func() error
}

func (m *multiLink) Close() error {
	var errs []error
	for _, l := range m.links {
		errs = append(errs, l.Close())
	}
	for _, c := range m.closers {
		errs = append(errs, c())
	}
	m.links, m.closers = nil, nil
	return errors.Join(errs...)
}

func (m *multiLink) Detach() error { return m.Close() }

func (m *multiLink) Update(*ebpf.Program) error {
	return fmt.Errorf("updating an attachment of several links: %w", ebpf.ErrNotSupported)
}

func (m *multiLink) Pin(string) error {
	return fmt.Errorf("pinning an attachment of several links: %w", ebpf.ErrNotSupported)
}

func (m *multiLink) Unpin() error {
	return fmt.Errorf("unpinning an attachment of several links: %w", ebpf.ErrNotSupported)
}

func (m *multiLink) Info() (*link.Info, error) {
	if len(m.links) == 1 {
		return m.links[0].Info()
	}
	return nil, fmt.Errorf("info of an attachment of several links: %w", ebpf.ErrNotSupported)
}

// LibraryDirs are searched, in order, for a uprobe's short library name, under each root: the
// directories of /etc/ld.so.conf (and its includes) come first when the root has them.
var LibraryDirs = map[string][]string{
	"amd64": {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"},
	"arm64": {"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"},
}

// ResolveLibrary finds the shared library a uprobe's short name means ("libc" →
// /usr/lib/x86_64-linux-gnu/libc.so.6) under root ("/" for the host, /proc/<pid>/root for a
// container): a file named <name>.so.<version> or <name>.so that is an ELF object (not a
// linker script), in the library directories of root. A name with a "/" is a path, returned
// under root. The returned path includes root.
func ResolveLibrary(root, name string) (string, error) {
	if strings.Contains(name, "/") {
		return filepath.Join(root, name), nil
	}
	dirs := append(ldSoConfDirs(root), LibraryDirs[runtime.GOARCH]...)
	seen := map[string]bool{}
	for _, d := range dirs {
		dir := filepath.Join(root, d)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		matches, _ := filepath.Glob(filepath.Join(dir, name+".so*"))
		var cands []string
		for _, m := range matches {
			rest := strings.TrimPrefix(filepath.Base(m), name+".so")
			if rest != "" && !isVersionSuffix(rest) {
				continue
			}
			if isELF(m) {
				cands = append(cands, m)
			}
		}
		if len(cands) == 0 {
			continue
		}
		// The soname (libc.so.6) before a longer version (libcrypto.so.3.0) and before the bare
		// development name (libfoo.so).
		sort.Slice(cands, func(i, j int) bool { return rank(cands[i], name) < rank(cands[j], name) })
		return cands[0], nil
	}
	return "", fmt.Errorf("library %q not found under %s (looked for %s.so* in %s): install it, or name the library by its path in the section (uprobe/<path>:<symbol>)",
		name, root, name, strings.Join(dirs, ", "))
}

// isVersionSuffix reports whether s is ".6", ".3.0" and the like.
func isVersionSuffix(s string) bool {
	if len(s) < 2 || s[0] != '.' {
		return false
	}
	for _, r := range s[1:] {
		if r != '.' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// rank orders candidates: a one-number version first, then longer versions, then none.
func rank(path, name string) int {
	rest := strings.TrimPrefix(filepath.Base(path), name+".so")
	if rest == "" {
		return 1000
	}
	return strings.Count(rest, ".")
}

// isELF reports whether the file at p starts with the ELF magic.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := f.Read(magic[:]); err != nil {
		return false
	}
	return bytes.Equal(magic[:], []byte("\x7fELF"))
}

// ldSoConfDirs reads the directories listed in root's /etc/ld.so.conf and the files it
// includes (one level of globs, as Debian's layout has).
func ldSoConfDirs(root string) []string {
	var dirs []string
	var read func(p string, depth int)
	read = func(p string, depth int) {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || depth > 2 {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line == "" {
				continue
			}
			if inc, ok := strings.CutPrefix(line, "include "); ok {
				matches, _ := filepath.Glob(filepath.Join(root, strings.TrimSpace(inc)))
				sort.Strings(matches)
				for _, m := range matches {
					rel, err := filepath.Rel(root, m)
					if err == nil {
						read("/"+rel, depth+1)
					}
				}
				continue
			}
			if strings.HasPrefix(line, "/") {
				dirs = append(dirs, line)
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	return dirs
}

// ErrMissingSymbol matches a MissingSymbolError.
var ErrMissingSymbol = errors.New("the uprobe's library or symbol is missing")

// MissingSymbolError is a uprobe whose library is not installed, or whose symbol the library
// does not have (a library of another version, or built without the function): Inspektor
// Gadget runs its gadgets without such a program, and so does Gadgetry's runtime, with a
// warning.
type MissingSymbolError struct {
	// Library is the library's path, or its short name when it was not found.
	Library, Symbol string
	// NoLibrary: the library itself was not found (Err says where it was looked for).
	NoLibrary bool
	Err       error
}

func (e *MissingSymbolError) Error() string {
	if e.NoLibrary {
		return fmt.Sprintf("library %s (for symbol %s) is not on this system's library path", e.Library, e.Symbol)
	}
	return fmt.Sprintf("%s has no symbol %s", e.Library, e.Symbol)
}

func (e *MissingSymbolError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMissingSymbol) hold.
func (e *MissingSymbolError) Is(target error) bool { return target == ErrMissingSymbol }
