// Package include carries Gadgetry's C headers for eBPF gadget programs (gadget.h, gadget/*.h and
// vmlinux.h) inside the gadgetry binary, so an author who only has the binary can still compile a
// gadget. The libbpf headers (<bpf/bpf_helpers.h> …) are not part of it: they come from the
// system (Debian: libbpf-dev).
package include

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed gadget.h gadget/*.h bpf/*.h vmlinux.h
var headers embed.FS

// FS returns the headers as a read-only file system rooted at the include directory: "gadget.h",
// "vmlinux.h", "gadget/types.h", …
func FS() fs.FS { return headers }

// WriteTo writes every header under dir, keeping the layout (dir/gadget.h, dir/gadget/*.h,
// dir/vmlinux.h), so that `clang -I dir` finds them. dir must exist; existing files are
// overwritten.
func WriteTo(dir string) error {
	return fs.WalkDir(headers, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("writing gadget headers: %w", err)
			}
			return nil
		}
		data, err := headers.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading embedded header %s: %w", path, err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("writing gadget header %s: %w", target, err)
		}
		return nil
	})
}

// WriteTemp writes the headers into a new temporary directory and returns it with a function
// that removes it. The directory's path has one length wherever $TMPDIR is (TempPathLen, or
// the next multiple of it that leaves room): clang 19's BTF writer numbers some forward
// declarations in the order of their addresses on its heap, and the heap's layout follows the
// lengths of the paths clang resolves, the headers' real paths among them. With os.MkdirTemp's
// names, of 1 to 10 random digits, about one build in twenty numbered them otherwise and the
// image's digest changed.
func WriteTemp() (dir string, cleanup func(), err error) {
	dir, err = MkdirTempFixedLen("gadgetry-include-")
	if err != nil {
		return "", nil, fmt.Errorf("creating a directory for the gadget headers: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := WriteTo(dir); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}

// TempPathLen is the length of MkdirTempFixedLen's directory paths (or a multiple of it, when
// $TMPDIR is long).
const TempPathLen = 128

// MkdirTempFixedLen creates a new directory under $TMPDIR named prefix, 16 random hex digits,
// a dash and as many "x" as make the whole path TempPathLen long (or the next multiple of it
// that leaves room), so that its length does not depend on $TMPDIR: the paths clang handles
// while compiling a gadget (the headers here, the builder's staging directory) must have one
// length for the object to be the same (see WriteTemp).
func MkdirTempFixedLen(prefix string) (string, error) {
	base, err := filepath.Abs(os.TempDir())
	if err != nil {
		return "", err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	name := base + "/" + prefix + hex.EncodeToString(rnd[:]) + "-"
	n := TempPathLen
	for n < len(name) {
		n += TempPathLen
	}
	name += strings.Repeat("x", n-len(name))
	if err := os.Mkdir(name, 0o700); err != nil {
		return "", err
	}
	return name, nil
}
