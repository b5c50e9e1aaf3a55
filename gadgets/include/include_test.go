package include_test

import (
	"os"
	"path/filepath"
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
