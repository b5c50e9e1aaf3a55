package include_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/gadgets/include"
)

// TestWriteTemp writes the embedded headers and finds each one a gadget source includes.
func TestWriteTemp(t *testing.T) {
	dir, cleanup, err := include.WriteTemp()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gadget.h", "vmlinux.h", "gadget/types.h", "gadget/macros.h", "gadget/arm64_regs.h"} {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s not written: %v", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the source tree's copy", name)
		}
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s behind", dir)
	}
}

// TestWriteTempPathLength: WriteTemp's directory has a path of one length (TempPathLen)
// whatever the length of $TMPDIR (and a multiple of it beyond), so clang's output does not
// depend on it (see WriteTemp).
func TestWriteTempPathLength(t *testing.T) {
	root := t.TempDir()
	for _, sub := range []string{"a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", strings.Repeat("c", 140)} {
		tmp := filepath.Join(root, sub)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TMPDIR", tmp)
		var lens []int
		for i := 0; i < 3; i++ {
			dir, cleanup, err := include.WriteTemp()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "gadget.h")); err != nil {
				t.Errorf("no gadget.h in %s: %v", dir, err)
			}
			lens = append(lens, len(dir))
			cleanup()
		}
		for _, n := range lens {
			if n%include.TempPathLen != 0 || n != lens[0] {
				t.Errorf("TMPDIR %d bytes long: directory paths %v long, want one multiple of %d", len(tmp), lens, include.TempPathLen)
				break
			}
		}
	}
}
