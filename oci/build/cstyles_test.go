package build_test

import (
	"bytes"
	"context"
	"debug/elf"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
)

// cStyles are programs written the ways authors write eBPF C: each must build for every
// architecture with the headers `image build` provides and the machine's libbpf and UAPI
// headers.
var cStyles = map[string]string{
	// The libbpf-bootstrap way: CO-RE kernel types from vmlinux.h, libbpf's headers.
	"vmlinux": `#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
	__u32 *pid = bpf_ringbuf_reserve(&events, sizeof(*pid), 0);
	if (!pid)
		return 0;
	*pid = BPF_CORE_READ(p, tgid);
	bpf_ringbuf_submit(pid, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`,
	// Every libbpf tutorial's first lines: UAPI headers (linux/bpf.h reaches asm/types.h in
	// the target's multiarch directory), then libbpf's helpers.
	"uapi": `#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counter, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`,
	// The compatibility contract's headers, one by one rather than through gadget.h: the
	// buffer calls take the map's address then, as in Inspektor Gadget's gadgets.
	"gadget": `#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/common.h>

struct event {
	struct gadget_process proc;
	gadget_timestamp timestamp;
};

GADGET_TRACER_MAP(events, 64 * 1024);
GADGET_TRACER(styles, events, event);

SEC("tracepoint/sched/sched_process_exec")
int styles_exec(void *ctx)
{
	struct event *e;

	if (gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->timestamp = bpf_ktime_get_boot_ns();
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`,
}

// TestBuildCStyles builds each style for amd64 and arm64 and checks that each architecture's
// layer is a BPF ELF object holding the program.
func TestBuildCStyles(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	wantProg := map[string]string{"vmlinux": "on_exec", "uapi": "count_getppid", "gadget": "styles_exec"}
	for name, src := range cStyles {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"program.bpf.c": src})
			store := memory.New()
			var progress bytes.Buffer
			desc, err := build.Build(context.Background(), dir, build.Options{Target: store, Progress: &progress})
			if err != nil {
				t.Fatalf("building the %s style: %v\n%s", name, err, progress.String())
			}
			var index ocispec.Index
			fetchJSON(t, store, desc, &index)
			if len(index.Manifests) != len(build.DefaultArchs) {
				t.Fatalf("%d manifests, want one per architecture %v", len(index.Manifests), build.DefaultArchs)
			}
			for _, md := range index.Manifests {
				var m ocispec.Manifest
				fetchJSON(t, store, md, &m)
				var obj []byte
				for _, l := range m.Layers {
					if l.MediaType == oci.MediaTypeEBPF {
						if obj, err = content.FetchAll(context.Background(), store, l); err != nil {
							t.Fatal(err)
						}
					}
				}
				f, err := elf.NewFile(bytes.NewReader(obj))
				if err != nil {
					t.Fatalf("%s: the eBPF layer is not ELF: %v", md.Platform.Architecture, err)
				}
				if f.Machine != elf.EM_BPF {
					t.Errorf("%s: ELF machine %v, want EM_BPF", md.Platform.Architecture, f.Machine)
				}
				syms, _ := f.Symbols()
				found := false
				for _, s := range syms {
					found = found || s.Name == wantProg[name]
				}
				if !found {
					t.Errorf("%s: the object has no symbol %s", md.Platform.Architecture, wantProg[name])
				}
			}
		})
	}
}

// TestBuildCompileErrorCommand shows clang's message and the command that ran, with the
// gadget directory as "." and the built-in headers by their alias.
func TestBuildCompileErrorCommand(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"program.bpf.c": "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include <no/such_header.h>\n"})
	_, err := build.Build(context.Background(), dir, build.Options{Target: memory.New(), Archs: []string{"arm64"}})
	if err == nil {
		t.Fatal("a missing header built")
	}
	msg := err.Error()
	for _, want := range []string{
		"compiling program.bpf.c for arm64 failed: clang",
		"program.bpf.c:3:10: fatal error: 'no/such_header.h' file not found",
		"\ncommand, in the gadget directory: ",
		"-D__TARGET_ARCH_arm64",
		"-I/gadgetry/include",
		"-idirafter ",
		"-c program.bpf.c -o gadgetry-ebpf-",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, dir) {
		t.Errorf("the error names the temporary gadget directory:\n%s", msg)
	}
	if strings.Contains(msg, "gadgetry-clang-") {
		t.Errorf("the error shows a staged path (newStage) instead of the real one:\n%s", msg)
	}
}
