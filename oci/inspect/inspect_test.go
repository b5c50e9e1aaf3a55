package inspect_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/inspect"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

const bpfSource = `
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
struct {
	__uint(type, 27); /* BPF_MAP_TYPE_RINGBUF */
	__uint(max_entries, 4096);
} events SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_openat") int trace_openat(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`

// compileBPF builds a tiny eBPF object with clang.
func compileBPF(t *testing.T) []byte {
	t.Helper()
	clang := ""
	for _, c := range []string{"clang-19", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			clang = p
			break
		}
	}
	if clang == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("clang not found (scripts/setup.sh installs clang-19)")
		}
		t.Skip("clang not found (scripts/setup.sh installs clang-19)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.bpf.c")
	obj := filepath.Join(dir, "p.o")
	if err := os.WriteFile(src, []byte(bpfSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-c", src, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wasmModule is a minimal module assembled here: it imports ig.gadgetLog(i32, i64) and
// exports gadgetAPIVersion() -> i64 returning 1.
var wasmModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x0a, 0x02, 0x60, 0x02, 0x7f, 0x7e, 0x00, 0x60, 0x00, 0x01, 0x7e, // types
	0x02, 0x10, 0x01, 0x02, 'i', 'g', 0x09, 'g', 'a', 'd', 'g', 'e', 't', 'L', 'o', 'g', 0x00, 0x00, // import
	0x03, 0x02, 0x01, 0x01, // function
	0x07, 0x14, 0x01, 0x10, 'g', 'a', 'd', 'g', 'e', 't', 'A', 'P', 'I', 'V', 'e', 'r', 's', 'i', 'o', 'n', 0x00, 0x01, // export
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x01, 0x0b, // code
}

func TestInspect(t *testing.T) {
	ctx := context.Background()
	s, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj := compileBPF(t)
	img := ocitest.Simple("trace_openat")
	img.EBPF = map[string][]byte{"amd64": obj, "arm64": obj}
	img.WASM = wasmModule
	root, err := ocitest.Push(ctx, s, "localhost/trace_openat:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspect.Inspect(ctx, s, "localhost/trace_openat:v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != root.Digest.String() || len(got.Manifests) != 2 || got.Metadata.Name != "trace_openat" {
		t.Fatalf("got %+v", got)
	}
	m := got.Manifests[0]
	if m.Arch != "amd64" || len(m.Layers) != 3 || m.Layers[1].MediaType != oci.MediaTypeEBPF || m.Layers[2].MediaType != oci.MediaTypeWASM {
		t.Fatalf("manifest %+v", m)
	}
	wantProgs := []inspect.Program{{Name: "trace_openat", Section: "tracepoint/syscalls/sys_enter_openat", Type: "TracePoint"}}
	if !reflect.DeepEqual(m.Programs, wantProgs) {
		t.Fatalf("programs %+v", m.Programs)
	}
	if len(m.Maps) != 1 || m.Maps[0].Name != "events" || m.Maps[0].Type != "RingBuf" || m.Maps[0].MaxEntries != 4096 {
		t.Fatalf("maps %+v", m.Maps)
	}
	if !reflect.DeepEqual(m.WASMImports, []string{"ig.gadgetLog"}) || !reflect.DeepEqual(m.WASMExports, []string{"gadgetAPIVersion"}) {
		t.Fatalf("wasm %v %v", m.WASMImports, m.WASMExports)
	}
	if got.Size <= int64(len(obj)+len(wasmModule)) {
		t.Fatalf("size %d", got.Size)
	}

	// Garbage in the layers is reported, not fatal.
	bad := ocitest.Simple("junk")
	if _, err := ocitest.Push(ctx, s, "localhost/junk", bad); err != nil {
		t.Fatal(err)
	}
	j, err := inspect.Inspect(ctx, s, "localhost/junk")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(j.Manifests[0].Warnings, "\n")
	if !strings.Contains(w, "eBPF object cannot be read") || !strings.Contains(w, "WASM module cannot be compiled") {
		t.Fatalf("warnings: %q", w)
	}
}
