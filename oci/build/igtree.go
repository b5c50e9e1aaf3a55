package build

import (
	"os"
	"path/filepath"
)

// An Inspektor Gadget (IG) source tree keeps its gadget headers in include/gadget/ and one
// vmlinux.h per architecture in include/gadget/<arch>/. IG's builder, run inside such a tree,
// puts include/ and include/gadget/<arch>/ on the include path, so a gadget of that tree finds
// the tree's own <gadget/...> headers and the tree's vmlinux.h for the architecture it targets.
// Build does the same when the gadget directory lies inside such a tree: the tree's headers come
// first, Gadgetry's embedded headers after them.

// treeMarker is the file, under an include directory, that marks a gadget header tree.
const treeMarker = "gadget/macros.h"

// gadgetTree is an IG-style source tree holding the gadget being built.
type gadgetTree struct {
	// Root is the tree's top directory.
	Root string
	// Include is Root/include.
	Include string
}

// findGadgetTree returns the closest directory at or above dir that has include/gadget/macros.h
// and include/gadget/<arch>/vmlinux.h for some architecture; ok is false when there is none.
func findGadgetTree(dir string) (gadgetTree, bool) {
	for d := dir; ; {
		inc := filepath.Join(d, "include")
		if fileExists(filepath.Join(inc, treeMarker)) {
			for _, a := range DefaultArchs {
				if fileExists(filepath.Join(inc, "gadget", a, "vmlinux.h")) {
					return gadgetTree{Root: d, Include: inc}, true
				}
			}
		}
		up := filepath.Dir(d)
		if up == d {
			return gadgetTree{}, false
		}
		d = up
	}
}

// includeArgs are the clang flags that put the tree's headers on the path for arch, in IG's
// builder's order: include/, then include/gadget/<arch>/ (its vmlinux.h).
func (t gadgetTree) includeArgs(arch string) []string {
	args := []string{"-I" + t.Include}
	if d := filepath.Join(t.Include, "gadget", arch); fileExists(filepath.Join(d, "vmlinux.h")) {
		args = append(args, "-I"+d)
	}
	return args
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
