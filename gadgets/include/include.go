// Package include carries Gadgetry's C headers for eBPF gadget programs (gadget.h, gadget/*.h and
// vmlinux.h) inside the gadgetry binary, so an author who only has the binary can still compile a
// gadget. The libbpf headers (<bpf/bpf_helpers.h> …) are not part of it: they come from the
// system (Debian: libbpf-dev).
package include

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// that removes it.
func WriteTemp() (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "gadgetry-include-")
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
