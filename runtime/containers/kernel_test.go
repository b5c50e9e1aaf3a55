package containers

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// compileExecFilter builds testdata/exec_filter.bpf.c against the gadget headers.
func compileExecFilter(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	obj := gadgettest.CompileFile(t, "testdata/exec_filter.bpf.c")
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestKernelFilterAndEnrich runs the whole path on a real kernel: a BPF program using
// gadget_filter_by_mntns and gadget_mntns_filter_map, the map filled by NewMntnsFilter from a
// selector, and records enriched by AddEnrichment. Two containers exec in a loop; only the
// selected one's execs may reach user space, and they carry its name.
func TestKernelFilterAndEnrich(t *testing.T) {
	env := runc.NewEnv(t)
	loop := []string{"/bin/sh", "-c", "while :; do /bin/true; /bin/sleep 0.05; done"}
	a := env.Start(runc.Options{Name: "kf-a", Args: loop})
	b := env.Start(runc.Options{Name: "kf-b", Args: loop})
	c := newCache(t, env.Root)
	spec := compileExecFilter(t)

	for _, tc := range []struct {
		sel        string
		want, deny uint64
		wantName   string
	}{
		{"kf-a", a.MntNS, b.MntNS, "kf-a"},
		{"!kf-a", b.MntNS, a.MntNS, "kf-b"},
	} {
		t.Run(tc.sel, func(t *testing.T) {
			sel, _ := ParseSelector(tc.sel)
			if err := spec.Variables[FilterEnableVar].Set(sel.Filters()); err != nil {
				t.Fatal(err)
			}
			coll, err := ebpf.NewCollection(spec)
			if err != nil {
				t.Fatalf("loading the test program: %v", err)
			}
			defer coll.Close()
			f, err := NewMntnsFilter(coll.Maps[FilterMapName], c, sel)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l, err := link.Tracepoint("sched", "sched_process_exec", coll.Programs["on_exec"], nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			rd, err := ringbuf.NewReader(coll.Maps["events"])
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()

			ds := datasource.New("exec", datasource.TypeSingle, 32)
			mf, _ := ds.AddStaticField("mntns_id", datasource.KindUint64, 0, 8)
			mf.Type = MntnsType
			ds.AddStaticField("pid", datasource.KindUint32, 8, 4)
			comm, _ := ds.AddStaticField("comm", datasource.KindCString, 12, 16)
			if err := AddEnrichment(ds, c); err != nil {
				t.Fatal(err)
			}
			name := ds.Field(FieldContainerName)
			seen := 0
			ds.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error {
				ns := mf.Uint(d)
				switch {
				case ns == tc.deny || ns == c.HostMntNS():
					t.Errorf("exec of %q from mntns %d passed the filter for %q", comm.String(d), ns, tc.sel)
				case ns == tc.want:
					if got := name.String(d); got != tc.wantName {
						t.Errorf("exec in %s enriched with name %q", tc.wantName, got)
					}
					seen++
				}
				return nil
			})
			rd.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
			for seen < 5 {
				rec, err := rd.Read()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("only %d execs from %s seen", seen, tc.wantName)
				}
				if err != nil {
					t.Fatal(err)
				}
				d := ds.NewData()
				copy(d.Raw, rec.RawSample)
				if _, err := ds.Emit(d); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
