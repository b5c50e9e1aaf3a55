package attach

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// UprobeLink is a uprobe (or uretprobe) program attached to one executable or library: the
// host's file and the copies in the containers' root directories given so far. A uprobe fires
// for the file it was set on, so a container with its own copy of a library needs its own.
// AddRoot attaches it in one more root, for a container that started after the attach.
// UprobeLink is a link.Link; its methods are safe for concurrent use.
type UprobeLink struct {
	link.Link // nil: every method is UprobeLink's own (see multiLink)

	kind      Kind
	path, sym string
	prog      *ebpf.Program

	// hostErr says why the host's own file has no uprobe (a *MissingSymbolError), nil when
	// it has one; only with Options.FollowRoots is such a link made at all.
	hostErr error

	mu     sync.Mutex
	seen   map[[2]uint64]bool // device and inode of each file attached
	links  []link.Link
	closed bool
}

// attachUprobe attaches prog to sym in the executable or library path names, resolving a
// short library name on the host's library path and, for each extra root (a container's
// /proc/<pid>/root), on that root's. Roots where the library is missing, lacks the symbol or
// is the host's own file are skipped. A host without the library or the symbol is a
// *MissingSymbolError, unless followRoots: the link is then made for the roots alone (none
// yet, perhaps), and HostErr tells why the host has none.
func attachUprobe(kind Kind, path, sym string, prog *ebpf.Program, roots []string, followRoots bool) (*UprobeLink, error) {
	u := &UprobeLink{kind: kind, path: path, sym: sym, prog: prog, seen: map[[2]uint64]bool{}}
	if hostPath, err := ResolveLibrary("/", path); err != nil {
		u.hostErr = &MissingSymbolError{Library: path, Symbol: sym, Err: err, NoLibrary: true}
	} else {
		id, _ := fileID(hostPath)
		if err := u.attachFileLocked(hostPath, id); err != nil { // u is not shared yet
			if !errors.Is(err, link.ErrNoSymbol) {
				return nil, fmt.Errorf("%s: %w", hostPath, err)
			}
			u.hostErr = &MissingSymbolError{Library: hostPath, Symbol: sym, Err: err}
		}
	}
	if u.hostErr != nil && !followRoots {
		return nil, u.hostErr
	}
	for _, root := range roots {
		if _, err := u.AddRoot(root); err != nil {
			u.Close()
			return nil, err
		}
	}
	return u, nil
}

// AddRoot attaches the program to the root directory's copy of its file (root is a
// container's /proc/<pid>/root), and reports whether it did: a root without the file, or
// whose file lacks the symbol, or is a file already attached (the host's, another
// container's sharing it), is skipped without an error. After Close it does nothing.
func (u *UprobeLink) AddRoot(root string) (bool, error) {
	p, err := ResolveLibrary(root, u.path)
	if err != nil {
		return false, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false, nil
	}
	id, ok := fileID(p)
	if !ok || u.seen[id] {
		return false, nil
	}
	if err := u.attachFileLocked(p, id); err != nil {
		if errors.Is(err, link.ErrNoSymbol) {
			return false, nil // another build of the library, without the symbol
		}
		return false, fmt.Errorf("%s: %w", p, err)
	}
	return true, nil
}

// attachFileLocked attaches the program to file p, whose device and inode are id (zero when
// unknown), under u.mu.
func (u *UprobeLink) attachFileLocked(p string, id [2]uint64) error {
	ex, err := link.OpenExecutable(p)
	if err != nil {
		return err
	}
	var l link.Link
	if u.kind == Uprobe {
		l, err = ex.Uprobe(u.sym, u.prog, nil)
	} else {
		l, err = ex.Uretprobe(u.sym, u.prog, nil)
	}
	if err != nil {
		return err
	}
	if id != ([2]uint64{}) {
		u.seen[id] = true
	}
	u.links = append(u.links, l)
	return nil
}

// HostErr returns why the host's own file has no uprobe (a *MissingSymbolError: the library
// or the symbol is missing there), or nil when it has one.
func (u *UprobeLink) HostErr() error { return u.hostErr }

// Files is the number of files the program is attached to.
func (u *UprobeLink) Files() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.links)
}

// Close detaches the program from every file; AddRoot then does nothing.
func (u *UprobeLink) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	var errs []error
	for _, l := range u.links {
		errs = append(errs, l.Close())
	}
	u.links, u.closed = nil, true
	return errors.Join(errs...)
}

// Detach is Close.
func (u *UprobeLink) Detach() error { return u.Close() }

// Update is not supported: the links are of one program.
func (u *UprobeLink) Update(*ebpf.Program) error {
	return fmt.Errorf("updating a uprobe attached to several files: %w", ebpf.ErrNotSupported)
}

// Pin is not supported.
func (u *UprobeLink) Pin(string) error {
	return fmt.Errorf("pinning a uprobe attached to several files: %w", ebpf.ErrNotSupported)
}

// Unpin is not supported.
func (u *UprobeLink) Unpin() error {
	return fmt.Errorf("unpinning a uprobe attached to several files: %w", ebpf.ErrNotSupported)
}

// Info is the info of the host file's link.
func (u *UprobeLink) Info() (*link.Info, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.links) == 0 {
		return nil, fmt.Errorf("info of a closed uprobe: %w", ebpf.ErrNotSupported)
	}
	return u.links[0].Info()
}

// fileID is a file's device and inode.
func fileID(p string) ([2]uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return [2]uint64{}, false
	}
	return [2]uint64{st.Dev, st.Ino}, true
}
