package containers

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
)

func filterMap(t *testing.T) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "gadget_mntns_fi", Type: ebpf.Hash, KeySize: 8, ValueSize: 4, MaxEntries: 1024})
	if err != nil {
		if os.Getenv("CI") != "true" && errors.Is(err, os.ErrPermission) {
			t.Skipf("creating a BPF hash map: %v", err)
		}
		t.Fatalf("creating a BPF hash map: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mapKeys(t *testing.T, m *ebpf.Map) []uint64 {
	t.Helper()
	var k uint64
	var v uint32
	var keys []uint64
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func TestMntnsFilterMap(t *testing.T) {
	env := runc.NewEnv(t)
	a := env.Start(runc.Options{Name: "fa"})
	b := env.Start(runc.Options{Name: "fb"})
	c := newCache(t, env.Root)
	m := filterMap(t)

	sel, _ := ParseSelector("fa,fc")
	f, err := NewMntnsFilter(m, c, sel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := mapKeys(t, m); !slices.Equal(got, []uint64{a.MntNS}) {
		t.Fatalf("map %v, want [%d] (fa), fb is %d", got, a.MntNS, b.MntNS)
	}

	// A matching container started later is added; deleting it removes it.
	evs := subscribe(t, c)
	fc := env.Start(runc.Options{Name: "fc"})
	evs.wait(t, EventAdd, fc.MntNS, "fc")
	want := []uint64{a.MntNS, fc.MntNS}
	slices.Sort(want)
	if got := mapKeys(t, m); !slices.Equal(got, want) {
		t.Fatalf("after fc started: map %v, want %v", got, want)
	}
	fc.Delete()
	evs.wait(t, EventRemove, fc.MntNS, "fc")
	if got := mapKeys(t, m); !slices.Equal(got, []uint64{a.MntNS}) {
		t.Fatalf("after fc deleted: map %v", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	bad, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := NewMntnsFilter(bad, c, sel); err == nil {
		t.Fatal("map with 4-byte keys accepted")
	}
}
