package build_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestBuildIGStyle builds testdata/igstyle, a gadget written against Inspektor Gadget's header
// names and APIs (IG's buffer calls, filesystem, stack, filter, bits, maps, core_fixes, packet
// filter and GPU bridge headers, endpoint types) with a build.yaml naming its WASM source
// (wasm: go/program.go): both architectures compile with Gadgetry's embedded headers, the
// object has the programs and the source is compiled into a WASM module.
func TestBuildIGStyle(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "go")
	store := memory.New()
	var progress bytes.Buffer
	desc, err := build.Build(context.Background(), "testdata/igstyle", build.Options{Target: store, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "building WASM module from go/program.go") {
		t.Errorf("the WASM source was not compiled:\n%s", progress.String())
	}
	var index ocispec.Index
	fetchJSON(t, store, desc, &index)
	for _, md := range index.Manifests {
		var m ocispec.Manifest
		fetchJSON(t, store, md, &m)
		var gotWASM bool
		for _, l := range m.Layers {
			data, err := content.FetchAll(context.Background(), store, l)
			if err != nil {
				t.Fatal(err)
			}
			switch l.MediaType {
			case oci.MediaTypeWASM:
				gotWASM = bytes.HasPrefix(data, []byte("\x00asm"))
			case oci.MediaTypeEBPF:
				spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("%s object: %v", md.Platform.Architecture, err)
				}
				for _, p := range []string{"igstyle_connect", "igstyle_rq", "igstyle_socket", "igstyle_malloc"} {
					if spec.Programs[p] == nil {
						t.Errorf("%s object has no program %s", md.Platform.Architecture, p)
					}
				}
				for _, m := range []string{"events", "events_lost_samples", "ig_kstack", "ig_ustack", "counts"} {
					if spec.Maps[m] == nil {
						t.Errorf("%s object has no map %s", md.Platform.Architecture, m)
					}
				}
				// The GPU bridge's maps: pinned by name, their records in schema
				// version 1's sizes (the interface with the bridge daemon).
				for m, size := range map[string]uint32{"gpu_meta": 32, "gpu_device": 128, "gpu_per_pid": 32, "gpu_per_pid_per_device": 40} {
					ms := spec.Maps[m]
					switch {
					case ms == nil:
						t.Errorf("%s object has no map %s", md.Platform.Architecture, m)
					case ms.Pinning != ebpf.PinByName || ms.ValueSize != size:
						t.Errorf("%s map %s: pinning %v, value size %d; want pinned by name, %d", md.Platform.Architecture, m, ms.Pinning, ms.ValueSize, size)
					}
				}
			}
		}
		if !gotWASM {
			t.Errorf("%s manifest: no WASM module layer", md.Platform.Architecture)
		}
	}
}

// TestBuildIGStyleHeaders builds, for both architectures with Gadgetry's embedded headers,
// gadgets that include only what Inspektor Gadget's include and use what IG's headers bring
// with them: testdata/igstyle_tracing (BPF_KPROBE and the mount namespace through
// <gadget/filter.h>, core_fixes.bpf.h's readers, GADGET_SNAPSHOTTER) and testdata/igstyle_net
// (<linux/...> headers instead of vmlinux.h, gadget_should_discard_data_by_skb, the socket
// enricher's optional cwd and exepath). runtime's TestCoreFixes runs the readers.
func TestBuildIGStyleHeaders(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	for dir, progs := range map[string][]string{
		"testdata/igstyle_tracing": {"igt_link", "igt_retrans", "igt_bio", "igt_sys", "igt_files"},
		"testdata/igstyle_net":     {"ign_socket"},
	} {
		store := memory.New()
		var progress bytes.Buffer
		desc, err := build.Build(context.Background(), dir, build.Options{Target: store, Progress: &progress})
		if err != nil {
			t.Fatalf("%s: %v\n%s", dir, err, progress.String())
		}
		var index ocispec.Index
		fetchJSON(t, store, desc, &index)
		if len(index.Manifests) != len(build.DefaultArchs) {
			t.Fatalf("%s: %d manifests, want one per architecture", dir, len(index.Manifests))
		}
		for _, md := range index.Manifests {
			var m ocispec.Manifest
			fetchJSON(t, store, md, &m)
			for _, l := range m.Layers {
				if l.MediaType != oci.MediaTypeEBPF {
					continue
				}
				data, err := content.FetchAll(context.Background(), store, l)
				if err != nil {
					t.Fatal(err)
				}
				spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("%s %s object: %v", dir, md.Platform.Architecture, err)
				}
				for _, p := range progs {
					if spec.Programs[p] == nil {
						t.Errorf("%s %s object has no program %s", dir, md.Platform.Architecture, p)
					}
				}
			}
		}
	}
}

// TestBuildInGadgetTree: a gadget inside an IG-style source tree (include/gadget/macros.h and
// include/gadget/<arch>/vmlinux.h above it) compiles with the tree's headers first, as IG's
// builder does: the tree's <gadget/...> and vmlinux.h win over Gadgetry's.
func TestBuildInGadgetTree(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	tree := t.TempDir()
	files := map[string]string{
		"include/gadget/macros.h": "#define TREE_MACROS 1\n",
		"include/gadget/mine.h":   "#define TREE_ONLY_HEADER 1\n",
		"gadgets/g/program.bpf.c": "#include <vmlinux.h>\n#include <bpf/bpf_helpers.h>\n#include <gadget/macros.h>\n#include <gadget/mine.h>\n" +
			"#if !defined(TREE_MACROS) || !defined(TREE_ONLY_HEADER) || !defined(TREE_VMLINUX)\n#error not the tree's headers\n#endif\n" +
			"SEC(\"tracepoint/syscalls/sys_enter_getppid\") int g(void *ctx) { return 0; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
	}
	for _, a := range build.DefaultArchs {
		// The tree's vmlinux.h: Gadgetry's, marked, so the program still compiles.
		data, err := os.ReadFile("../../gadgets/include/vmlinux.h")
		if err != nil {
			t.Fatal(err)
		}
		files["include/gadget/"+a+"/vmlinux.h"] = "#define TREE_VMLINUX 1\n" + string(data)
	}
	writeFiles(t, tree, files)
	var progress bytes.Buffer
	if _, err := build.Build(context.Background(), filepath.Join(tree, "gadgets/g"), build.Options{Target: memory.New(), Progress: &progress}); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "inside the gadget source tree "+tree) {
		t.Errorf("progress does not say the tree's headers were used:\n%s", progress.String())
	}
}

// TestBuildRustGuest: build.yaml naming a Rust source (rust/src/lib.rs) builds it with cargo
// for WASI preview 1 (wasm32-wasip1, or wasm32-wasi with a Rust before 1.78: Debian 12's). The
// guest run by the runtime is cmd/gadgetry's TestRustGuestRuns.
func TestBuildRustGuest(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	t.Setenv("CARGO", strings.TrimPrefix(gadgettest.RequireRust(t), "CARGO="))
	dir := rustGadget(t)
	var progress bytes.Buffer
	if _, err := build.Build(context.Background(), dir, build.Options{Target: memory.New(), Archs: []string{"amd64"}, Progress: &progress}); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "cargo build --target wasm32-wasi") {
		t.Errorf("built without cargo?\n%s", progress.String())
	}
}

// TestBuildRustGuestMissing: without a Rust toolchain able to build it, a Rust guest's build
// fails with one sentence saying what is missing and what to do.
func TestBuildRustGuestMissing(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := rustGadget(t)
	// A toolchain whose rustc has no WASI standard library.
	fake := t.TempDir()
	gadgettest.WriteFile(t, filepath.Join(fake, "cargo"), "#!/bin/sh\nexit 1\n", 0o755)
	gadgettest.WriteFile(t, filepath.Join(fake, "rustc"), "#!/bin/sh\ncase \"$1\" in --version) echo 'rustc 1.99.0 (fake)';; --print) echo "+fake+";; esac\n", 0o755)
	for _, c := range []struct{ name, cargo, want string }{
		{"no cargo", filepath.Join(fake, "none", "cargo"), "cargo is not installed"},
		{"no target", filepath.Join(fake, "cargo"), "rustc 1.99.0 (fake) has no wasm32-wasip1 target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CARGO", c.cargo)
			t.Setenv("RUSTC", "") // the rustc beside the fake cargo, whatever the caller's
			_, err := build.Build(context.Background(), dir, build.Options{Target: memory.New(), Archs: []string{"amd64"}, Progress: io.Discard})
			if err == nil {
				t.Fatal("built")
			}
			msg := err.Error()
			for _, w := range []string{"building the Rust WASM module rust/src/lib.rs", c.want, "name the .wasm file in build.yaml's wasm key"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// rustGadget writes an IG-style gadget whose guest is the Rust package rust/.
func rustGadget(t *testing.T) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"program.bpf.c":   "#include <gadget.h>\nSEC(\"tracepoint/syscalls/sys_enter_getppid\") int g(void *ctx) { return 0; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
		"build.yaml":      "wasm: rust/src/lib.rs\n",
		"rust/Cargo.toml": "[package]\nname = \"rust-guest\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n",
		"rust/src/lib.rs": "#[no_mangle]\npub extern \"C\" fn gadgetAPIVersion() -> u64 { 1 }\n",
	})
	return dir
}
