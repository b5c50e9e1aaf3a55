package build_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/oci/metadata"
)

// enumProgram is a gadget of our own in IG's style whose record has enum fields: state (ig
// cannot name it), kind_raw (ig names it kind), mode (annotated in gadget.yaml already), and
// one in a nested struct.
const enumProgram = `// SPDX-License-Identifier: Apache-2.0
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>

enum tst_state { STATE_OFF = 0, STATE_ON = 1 };
enum tst_kind { KIND_A = 1, KIND_B = 2 };
enum tst_mode { MODE_X = 0, MODE_Y = 1 };

struct inner {
	enum tst_state nested;
	__u32 pad;
};

struct event {
	gadget_mntns_id mntns_id;
	enum tst_state state;
	enum tst_kind kind_raw;
	enum tst_mode mode;
	struct inner in;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(enums, events, event);

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct event *e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->state = STATE_ON;
	e->kind_raw = KIND_B;
	e->mode = MODE_Y;
	e->in.nested = STATE_OFF;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`

const enumYAML = `name: enums
# a comment the rewrite keeps
datasources:
  enums:
    fields:
      mode:
        annotations:
          ebpf.formatter.enum: mode_text
          description: already named for ig
`

// TestBuildForIG: the image carries what ig, Inspektor Gadget's command, needs and Gadgetry's
// runtime does not: IG's builder-version annotation (ig warns when it is missing), and in the
// image's gadget.yaml a name (ebpf.formatter.enum) for the field ig adds beside each enum
// field it cannot name by itself (ig warns, and shows numbers); a field named <x>_raw or
// already annotated is left as it is, and the rest of gadget.yaml is kept.
func TestBuildForIG(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"program.bpf.c": enumProgram, "gadget.yaml": enumYAML})
	store := memory.New()
	var progress bytes.Buffer
	desc, err := build.Build(context.Background(), dir, build.Options{Target: store, Progress: &progress, Archs: []string{"amd64"}})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, progress.String())
	}
	var index ocispec.Index
	fetchJSON(t, store, desc, &index)
	if got := index.Annotations[build.AnnotationBuilderVersion]; got != build.BuilderVersion {
		t.Errorf("index annotation %s = %q, want %q", build.AnnotationBuilderVersion, got, build.BuilderVersion)
	}
	var m ocispec.Manifest
	fetchJSON(t, store, index.Manifests[0], &m)
	if got := m.Annotations[build.AnnotationBuilderVersion]; got != build.BuilderVersion {
		t.Errorf("manifest annotation %s = %q, want %q (ig reads the manifest's)", build.AnnotationBuilderVersion, got, build.BuilderVersion)
	}
	cfg := fetchJSON(t, store, m.Config, nil)
	md, err := metadata.Parse(cfg)
	if err != nil {
		t.Fatalf("the image's gadget.yaml does not parse: %v\n%s", err, cfg)
	}
	fields := md.DataSources["enums"].Fields
	for field, want := range map[string]string{"state": "state_name", "in.nested": "in.nested_name", "mode": "mode_text", "kind_raw": ""} {
		var got string
		if f := fields[field]; f != nil {
			got = f.Annotations[build.AnnotationIGEnum]
		}
		if got != want {
			t.Errorf("field %s: %s = %q, want %q", field, build.AnnotationIGEnum, got, want)
		}
	}
	if f := fields["mode"]; f == nil || f.Annotations["description"] != "already named for ig" {
		t.Errorf("field mode lost its annotations: %+v", f)
	}
	if md.Name != "enums" || !strings.Contains(string(cfg), "# a comment the rewrite keeps") {
		t.Errorf("the rest of gadget.yaml was not kept:\n%s", cfg)
	}
	if !strings.Contains(progress.String(), build.AnnotationIGEnum) {
		t.Errorf("the build does not say it named the enum fields for ig:\n%s", progress.String())
	}
}
