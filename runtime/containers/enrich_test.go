package containers

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// fakeContainer puts a synthetic container in c, as if learnt from a runtime.
func fakeContainer(c *Cache, ct *Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(ct)
}

func execDataSource(t testing.TB) (*datasource.DataSource, *datasource.Field) {
	ds := datasource.New("exec", datasource.TypeSingle, 16)
	if _, err := ds.AddStaticField("proc.pid", datasource.KindUint32, 0, 4); err != nil {
		t.Fatal(err)
	}
	f, err := ds.AddStaticField("proc.mntns_id", datasource.KindUint64, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	f.Type = MntnsType
	return ds, f
}

func record(ds *datasource.DataSource, mntns uint64) *datasource.Data {
	d := ds.NewData()
	binary.LittleEndian.PutUint64(d.Raw[8:], mntns)
	return d
}

// TestEnrichment: a container's event gets IG's enrichment fields (names and kinds), a host
// event none of them set; runtime.containerName is the one in tables.
func TestEnrichment(t *testing.T) {
	c := newCache(t)
	const ns = 1<<41 + 7
	started := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	fakeContainer(c, &Container{ID: "abc", Name: "web", Runtime: "containerd", Image: "nginx:1",
		Hostname: "web-0", Pid: 4194305, StartedAt: started, HostNetwork: true, MntNS: ns,
		K8s: K8s{Namespace: "shop", Pod: "web-0", Container: "web"}})

	ds, _ := execDataSource(t)
	if err := AddEnrichment(ds, c); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	ds.Subscribe(0, func(ds *datasource.DataSource, d *datasource.Data) error {
		got = map[string]any{}
		for _, f := range ds.Fields() {
			if f.Static() || !f.IsSet(d) {
				continue
			}
			switch f.Kind {
			case datasource.KindString:
				got[f.Name] = f.String(d)
			case datasource.KindBool:
				got[f.Name] = f.Bool(d)
			case datasource.KindInt64:
				got[f.Name] = f.Int(d)
			default:
				got[f.Name] = f.Uint(d)
			}
		}
		return nil
	})
	if _, err := ds.Emit(record(ds, ns)); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{FieldContainerID: "abc", FieldContainerName: "web",
		FieldRuntimeName: "containerd", FieldContainerImageName: "nginx:1", FieldContainerHostname: "web-0",
		FieldContainerPid: uint64(4194305), FieldContainerStartedAt: started.UnixNano(), FieldK8sHostNetwork: true,
		FieldK8sNamespace: "shop", FieldK8sPodName: "web-0", FieldK8sContainerName: "web"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	kinds := map[string]datasource.Kind{}
	for _, f := range ds.Fields() {
		if !f.Static() {
			kinds[f.Name] = f.Kind
		}
	}
	wantKinds := map[string]datasource.Kind{
		"k8s.node": datasource.KindString, "k8s.namespace": datasource.KindString,
		"k8s.podName": datasource.KindString, "k8s.containerName": datasource.KindString,
		"k8s.hostnetwork": datasource.KindBool, "k8s.podLabels": datasource.KindString,
		"k8s.owner.kind": datasource.KindString, "k8s.owner.name": datasource.KindString,
		"runtime.containerName": datasource.KindString, "runtime.runtimeName": datasource.KindString,
		"runtime.containerId": datasource.KindString, "runtime.containerPid": datasource.KindUint32,
		"runtime.containerImageName": datasource.KindString, "runtime.containerImageDigest": datasource.KindString,
		"runtime.containerStartedAt": datasource.KindInt64, "runtime.containerHostname": datasource.KindString,
	}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("enrichment fields %v, want %v", kinds, wantKinds)
	}
	for _, f := range ds.Fields() {
		if !f.Static() && (f.Name == FieldContainerName) == (f.Annotations["columns.hidden"] == "true") {
			t.Errorf("%s: columns.hidden %q", f.Name, f.Annotations["columns.hidden"])
		}
	}
	if f := ds.Field(FieldContainerName); len(f.Tags) != 1 || f.Tags[0] != "container" {
		t.Errorf("tags %v", f.Tags)
	}
	// Host events: container fields stay empty.
	if _, err := ds.Emit(record(ds, c.HostMntNS())); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("host event enriched: %v", got)
	}

	// Selection drops the host and unselected containers.
	ds2, _ := execDataSource(t)
	sel, _ := ParseSelector("web")
	if err := AddSelection(ds2, c, sel); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns   uint64
		drop bool
	}{{ns, false}, {c.HostMntNS(), true}, {ns + 1, true}} {
		dropped, err := ds2.Emit(record(ds2, tc.ns))
		if err != nil || dropped != tc.drop {
			t.Errorf("mntns %d: dropped=%v err=%v, want dropped=%v", tc.ns, dropped, err, tc.drop)
		}
	}

	if c.ShouldDiscard(sel, ns) || !c.ShouldDiscard(sel, c.HostMntNS()) || c.ShouldDiscard(Selector{}, c.HostMntNS()) {
		t.Error("ShouldDiscard disagrees with the selector")
	}

	if err := AddEnrichment(datasource.New("x", datasource.TypeSingle, 0), c); !errors.Is(err, ErrNoMntnsField) {
		t.Fatalf("no mntns field: %v", err)
	}
}

// BenchmarkEnrich measures enriching one event of a known container: a cache lookup and eight
// string copies into the record's reused buffers.
func BenchmarkEnrich(b *testing.B) {
	c, err := New(b.Context(), Options{NoDefaultRoots: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const ns = 1<<41 + 9
	fakeContainer(c, &Container{ID: "3f2c5b8e9a1d4c7b6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
		Name: "web", Runtime: "containerd", Image: "docker.io/library/nginx:1.27", Hostname: "web-0",
		MntNS: ns, K8s: K8s{Namespace: "shop", Pod: "web-0", Container: "web"}})
	ds, _ := execDataSource(b)
	if err := AddEnrichment(ds, c); err != nil {
		b.Fatal(err)
	}
	d := record(ds, ns)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ds.Emit(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnrichHost measures a host event: one comparison, nothing set.
func BenchmarkEnrichHost(b *testing.B) {
	c, err := New(b.Context(), Options{NoDefaultRoots: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ds, _ := execDataSource(b)
	if err := AddEnrichment(ds, c); err != nil {
		b.Fatal(err)
	}
	d := record(ds, c.HostMntNS())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ds.Emit(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLazyMiss measures the one-time cost of a mount namespace never seen before that is
// not a container: a walk of /proc, the state roots read again, a negative entry cached.
func BenchmarkLazyMiss(b *testing.B) {
	c, err := New(b.Context(), Options{NoDefaultRoots: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ns := uint64(1 << 42)
	for b.Loop() {
		ns++
		if c.Lookup(ns) != nil {
			b.Fatal("attributed")
		}
	}
}
