package build_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
)

// requireTools skips (or, with CI=true, fails) when a tool the builder runs is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		alts := []string{tool}
		if tool == "clang" {
			alts = []string{"clang-19", "clang"}
		}
		if tool == "llvm-strip" {
			alts = []string{"llvm-strip-19", "llvm-strip"}
		}
		found := false
		for _, a := range alts {
			if _, err := exec.LookPath(a); err == nil {
				found = true
				break
			}
		}
		if !found {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found in PATH (CI=true: missing tools are failures; run scripts/setup.sh)", tool)
			}
			t.Skipf("%s not found in PATH", tool)
		}
	}
}

const program = `// a test gadget
#include <gadget.h>

struct build_test_event {
	struct gadget_process proc;
	__u32 arg;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(exec, events, build_test_event);

const volatile __u32 targ_value = 0;
GADGET_PARAM(targ_value);

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(build_test_kprobe, int dfd)
{
	struct build_test_event *e;

	e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->arg = (__u32)PT_REGS_PARM1_CORE(ctx) + targ_value;
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`

const gadgetYAML = `name: build test
description: a gadget built by the tests
homepageURL: https://example.com/home
documentationURL: https://example.com/doc
sourceURL: https://example.com/src
datasources:
  exec:
    fields:
      arg:
        annotations:
          description: an argument
`

const reactorMain = `package main

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

func main() {}
`

// writeFiles writes name → content under dir, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fullGadget(t *testing.T) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"program.bpf.c": program,
		"gadget.yaml":   gadgetYAML,
		"go/go.mod":     "module example.com/buildtest\n\ngo 1.23\n",
		"go/main.go":    reactorMain,
	})
	return dir
}

// countingTarget counts pushes, to prove failed builds store nothing.
type countingTarget struct {
	oras.Target
	pushes int
}

func (c *countingTarget) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	c.pushes++
	return c.Target.Push(ctx, d, r)
}

func fetchJSON(t *testing.T, s content.Fetcher, d ocispec.Descriptor, v any) []byte {
	t.Helper()
	data, err := content.FetchAll(context.Background(), s, d)
	if err != nil {
		t.Fatalf("fetching %s %s: %v", d.MediaType, d.Digest, err)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("decoding %s: %v", d.MediaType, err)
		}
	}
	return data
}

// TestBuildFull builds a gadget with eBPF, Go WASM and gadget.yaml twice, from two directories,
// and checks the digests match and the image follows the gadget image format.
func TestBuildFull(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "go")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	ctx := context.Background()

	store := memory.New()
	var progress bytes.Buffer
	desc, err := build.Build(ctx, fullGadget(t), build.Options{Target: store, Progress: &progress})
	if err != nil {
		t.Fatalf("build: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	// Determinism: the same sources elsewhere give the same index digest.
	store2 := memory.New()
	desc2, err := build.Build(ctx, fullGadget(t), build.Options{Target: store2})
	if err != nil {
		t.Fatalf("second build: %v", err)
	}
	if desc.Digest != desc2.Digest {
		t.Fatalf("two builds of the same sources differ: %s vs %s", desc.Digest, desc2.Digest)
	}

	if desc.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("top-level media type %q, want an index", desc.MediaType)
	}
	var index ocispec.Index
	fetchJSON(t, store, desc, &index)
	if index.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("index mediaType %q", index.MediaType)
	}
	if len(index.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2 (amd64, arm64)", len(index.Manifests))
	}
	wantAnn := map[string]string{
		"org.opencontainers.image.title":         "build test",
		"org.opencontainers.image.description":   "a gadget built by the tests",
		"org.opencontainers.image.url":           "https://example.com/home",
		"org.opencontainers.image.documentation": "https://example.com/doc",
		"org.opencontainers.image.source":        "https://example.com/src",
		"org.opencontainers.image.created":       "2023-11-14T22:13:20Z",
	}
	var wasmDigests []string
	for i, arch := range []string{"amd64", "arm64"} {
		md := index.Manifests[i]
		if md.Platform == nil || md.Platform.OS != "linux" || md.Platform.Architecture != arch {
			t.Fatalf("manifest %d platform %+v, want linux/%s", i, md.Platform, arch)
		}
		if md.MediaType != ocispec.MediaTypeImageManifest || md.ArtifactType != oci.ArtifactType {
			t.Errorf("manifest %d descriptor: mediaType %q artifactType %q", i, md.MediaType, md.ArtifactType)
		}
		var m ocispec.Manifest
		fetchJSON(t, store, md, &m)
		if m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != oci.ArtifactType {
			t.Errorf("%s manifest: mediaType %q artifactType %q", arch, m.MediaType, m.ArtifactType)
		}
		for k, v := range wantAnn {
			if m.Annotations[k] != v {
				t.Errorf("%s manifest annotation %s = %q, want %q", arch, k, m.Annotations[k], v)
			}
		}
		if m.Config.MediaType != oci.MediaTypeMetadata {
			t.Errorf("%s config media type %q", arch, m.Config.MediaType)
		}
		if cfg := fetchJSON(t, store, m.Config, nil); string(cfg) != gadgetYAML {
			t.Errorf("%s config blob is not gadget.yaml:\n%s", arch, cfg)
		}
		if len(m.Layers) != 2 || m.Layers[0].MediaType != oci.MediaTypeEBPF || m.Layers[1].MediaType != oci.MediaTypeWASM {
			t.Fatalf("%s layers %+v, want ebpf then wasm", arch, m.Layers)
		}
		wasmDigests = append(wasmDigests, m.Layers[1].Digest.String())
		wasm := fetchJSON(t, store, m.Layers[1], nil)
		if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
			t.Errorf("wasm layer is not a WASM module")
		}
		obj := fetchJSON(t, store, m.Layers[0], nil)
		checkObject(t, arch, obj)
	}
	if wasmDigests[0] != wasmDigests[1] {
		t.Errorf("the wasm layer differs between architectures: %v", wasmDigests)
	}
}

// checkObject checks an eBPF layer: a BPF ELF without DWARF, with BTF holding the markers, and
// with the architecture's register struct.
func checkObject(t *testing.T, arch string, obj []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("%s object is not ELF: %v", arch, err)
	}
	if f.Machine != elf.EM_BPF || f.ByteOrder.String() != "LittleEndian" {
		t.Errorf("%s object: machine %v byte order %v", arch, f.Machine, f.ByteOrder)
	}
	hasBTF := false
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") {
			t.Errorf("%s object still has DWARF section %s", arch, s.Name)
		}
		if s.Name == ".BTF" {
			hasBTF = true
		}
	}
	if !hasBTF {
		t.Fatalf("%s object has no .BTF section", arch)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("%s object: cilium/ebpf cannot read it: %v", arch, err)
	}
	for _, name := range []string{"gadget_tracer_exec___events___build_test_event", "gadget_param_targ_value", "gadget_map_tracer_events"} {
		var v *btf.Var
		if err := spec.Types.TypeByName(name, &v); err != nil {
			t.Errorf("%s object: marker %s not in BTF: %v", arch, name, err)
		}
	}
	if _, ok := spec.Programs["build_test_kprobe"]; !ok {
		t.Errorf("%s object: program build_test_kprobe missing", arch)
	}
	// PT_REGS_PARM1_CORE reads through the arch's register struct, which CO-RE records in BTF.
	regs := map[string]string{"amd64": "pt_regs", "arm64": "user_pt_regs"}[arch]
	var s *btf.Struct
	if err := spec.Types.TypeByName(regs, &s); err != nil {
		t.Errorf("%s object: struct %s not in BTF (was it compiled for %s?): %v", arch, regs, arch, err)
	}
}

// TestBuildCompileError shows clang's diagnostics with the source's relative path and line,
// and stores nothing.
func TestBuildCompileError(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"program.bpf.c": "#include <gadget.h>\n\nint f(void)\n{\n\treturn undeclared_thing;\n}\n",
	})
	target := &countingTarget{Target: memory.New()}
	_, err := build.Build(context.Background(), dir, build.Options{Target: target})
	if err == nil {
		t.Fatal("building a program with an error succeeded")
	}
	if !strings.Contains(err.Error(), "program.bpf.c:5:") || !strings.Contains(err.Error(), "undeclared_thing") {
		t.Errorf("error does not show clang's program.bpf.c:5 diagnostic:\n%v", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("error shows the absolute gadget path instead of a relative one:\n%v", err)
	}
	if !strings.Contains(err.Error(), "\ncommand, in the gadget directory: ") || !strings.Contains(err.Error(), " -target bpf ") || !strings.Contains(err.Error(), " -c program.bpf.c -o ") {
		t.Errorf("error does not show the clang command that ran:\n%v", err)
	}
	if target.pushes != 0 {
		t.Errorf("a failed build pushed %d blobs", target.pushes)
	}

	// An error reached through a header names the header as /gadgetry/include/…, not by the
	// temporary directory the embedded headers were written to.
	writeFiles(t, dir, map[string]string{"program.bpf.c": "#define gadget_process 1\n#include <gadget.h>\n"})
	_, err = build.Build(context.Background(), dir, build.Options{Target: target, Archs: []string{"amd64"}})
	if err == nil || !strings.Contains(err.Error(), "/gadgetry/include/gadget/") || strings.Contains(err.Error(), os.TempDir()+"/gadgetry-include-") {
		t.Errorf("error through a header does not name it /gadgetry/include/gadget/…:\n%v", err)
	}
}

// TestBuildMissingGoMod fails clearly when go/ is not a Go module.
func TestBuildMissingGoMod(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"program.bpf.c": program,
		"go/main.go":    reactorMain,
	})
	target := &countingTarget{Target: memory.New()}
	_, err := build.Build(context.Background(), dir, build.Options{Target: target, Archs: []string{"amd64"}})
	if err == nil || !strings.Contains(err.Error(), "go/ has no go.mod") || !strings.Contains(err.Error(), "go mod init") {
		t.Fatalf("error = %v, want one saying go/ has no go.mod and what to run", err)
	}
	if target.pushes != 0 {
		t.Errorf("a failed build pushed %d blobs", target.pushes)
	}
}

// TestBuildSpecFile builds from the sources build.yaml names: another C file, a prebuilt
// .wasm, another metadata file, extra cflags, per-arch btfgen archives; unknown keys are
// warned about.
func TestBuildSpecFile(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := t.TempDir()
	prebuilt := "\x00asm\x01\x00\x00\x00"
	writeFiles(t, dir, map[string]string{
		"build.yaml":       "ebpfsource: src/other.bpf.c\nwasm: prebuilt/mod.wasm\nmetadata: meta/other.yaml\ncflags: -DBUILD_TEST_VALUE=7 -DOTHER\nbtfgen: btf/{arch}.tar.gz\nfrobnicate: yes\n",
		"btf/amd64.tar.gz": "amd64 btf",
		"btf/arm64.tar.gz": "arm64 btf",
		"src/other.bpf.c": "#include <gadget.h>\n#if BUILD_TEST_VALUE != 7 || !defined(OTHER)\n#error cflags not passed\n#endif\n" +
			"SEC(\"tracepoint/syscalls/sys_enter_execve\")\nint spec_test(void *ctx) { return 0; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
		"prebuilt/mod.wasm": prebuilt,
		"meta/other.yaml":   "name: other\n",
		// Ignored because build.yaml names other sources.
		"program.bpf.c": "#error not this one\n",
		"gadget.yaml":   "name: not this one\n",
	})
	store := memory.New()
	var progress bytes.Buffer
	desc, err := build.Build(context.Background(), dir, build.Options{Target: store, Progress: &progress})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if !strings.Contains(progress.String(), `unknown key "frobnicate"`) {
		t.Errorf("no warning about the unknown build.yaml key in:\n%s", progress.String())
	}
	var index ocispec.Index
	fetchJSON(t, store, desc, &index)
	if len(index.Manifests) != 2 {
		t.Fatalf("index manifests %+v, want amd64 and arm64", index.Manifests)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		var m ocispec.Manifest
		fetchJSON(t, store, index.Manifests[i], &m)
		if got := string(fetchJSON(t, store, m.Config, nil)); got != "name: other\n" {
			t.Errorf("config = %q, want meta/other.yaml", got)
		}
		if m.Annotations["org.opencontainers.image.title"] != "other" {
			t.Errorf("title annotation %q", m.Annotations["org.opencontainers.image.title"])
		}
		if len(m.Layers) != 3 || m.Layers[0].MediaType != oci.MediaTypeEBPF || m.Layers[1].MediaType != oci.MediaTypeWASM || m.Layers[2].MediaType != oci.MediaTypeBTFGen {
			t.Fatalf("%s layers %+v: want ebpf, wasm, btfgen", arch, m.Layers)
		}
		if got := string(fetchJSON(t, store, m.Layers[1], nil)); got != prebuilt {
			t.Errorf("%s wasm layer %q, want the prebuilt module", arch, got)
		}
		if got := string(fetchJSON(t, store, m.Layers[2], nil)); got != arch+" btf" {
			t.Errorf("%s btfgen layer %q, want btf/%s.tar.gz", arch, got, arch)
		}
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(fetchJSON(t, store, m.Layers[0], nil)))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := spec.Programs["spec_test"]; !ok {
			t.Errorf("the %s object was not built from src/other.bpf.c", arch)
		}
	}
}

// TestBuildMinimal builds a gadget with only program.bpf.c: no WASM layer and the OCI empty
// descriptor as config.
func TestBuildMinimal(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"program.bpf.c": program})
	store := memory.New()
	desc, err := build.Build(context.Background(), dir, build.Options{Target: store, Archs: []string{"arm64"}})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var index ocispec.Index
	fetchJSON(t, store, desc, &index)
	var m ocispec.Manifest
	fetchJSON(t, store, index.Manifests[0], &m)
	if m.Config.MediaType != ocispec.MediaTypeEmptyJSON || m.Config.Digest != ocispec.DescriptorEmptyJSON.Digest {
		t.Errorf("config %+v, want the OCI empty descriptor", m.Config)
	}
	if got := string(fetchJSON(t, store, m.Config, nil)); got != "{}" {
		t.Errorf("empty config blob = %q", got)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != oci.MediaTypeEBPF {
		t.Errorf("layers %+v, want only the eBPF object", m.Layers)
	}
	if _, ok := m.Annotations["org.opencontainers.image.created"]; !ok {
		t.Errorf("no created annotation")
	}
	checkObject(t, "arm64", fetchJSON(t, store, m.Layers[0], nil))
}

// TestBuildBadInput covers errors found before any tool runs.
func TestBuildBadInput(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	withProgram := t.TempDir()
	writeFiles(t, withProgram, map[string]string{"program.bpf.c": program})
	for _, tc := range []struct {
		name, dir string
		opts      build.Options
		want      string
	}{
		{"no target", withProgram, build.Options{}, "no target store"},
		{"no source", empty, build.Options{Target: memory.New()}, "program.bpf.c not found"},
		{"bad arch", withProgram, build.Options{Target: memory.New(), Archs: []string{"riscv64"}}, `"riscv64" is not supported`},
		{"no dir", filepath.Join(empty, "nope"), build.Options{Target: memory.New()}, "not a gadget directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build.Build(ctx, tc.dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("bad SOURCE_DATE_EPOCH", func(t *testing.T) {
		t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
		_, err := build.Build(ctx, withProgram, build.Options{Target: memory.New()})
		if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Fatalf("error = %v", err)
		}
	})
}
