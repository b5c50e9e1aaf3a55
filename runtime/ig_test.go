package runtime_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestIGStyleGadget runs a gadget written in Inspektor Gadget's style (testdata/igstyle.bpf.c):
// its max_entries-0 map is sized from <map>_max_entries (the default and gadget.yaml's
// defaultValue), its socket filter and tc classifier see a loopback packet, its uprobe on
// "libc:exit" (a short library name) sees a process exit, and its iterator marker naming two
// programs gives an array from each, in one data source.
func TestIGStyleGadget(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "igstyle")
	rt := runtime.New(runtime.Options{})
	before := gadgettest.Objects(t, prefix)

	// gadget.yaml changes the parameter's default: the map follows.
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igstyle", obj,
		"params:\n  ebpf:\n    gtest_sized_max_entries:\n      key: sized-max-entries\n      defaultValue: \"96\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Iters) != 2 || g.Iters[0].DataSource != "gtest_tasks" || g.Iters[1].DataSource != "gtest_tasks" {
		t.Fatalf("iterators of one marker naming two programs: %+v", g.Iters)
	}

	type arr struct{ which []uint64 }
	arrays := make(chan arr, 4)
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "test", Init: func(r *runtime.Run) error {
		ds := r.DataSource("gtest_tasks")
		which := field(t, ds, "which")
		ds.SubscribeArray(0, func(_ *datasource.DataSource, a []*datasource.Data) error {
			var w []uint64
			for _, d := range a {
				w = append(w, which.Uint(d))
			}
			arrays <- arr{w}
			return nil
		})
		return nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()

	if m := run.Map("gtest_sized"); m == nil || m.MaxEntries() != 96 {
		t.Errorf("map declared with max_entries 0: %v, want 96 entries from gtest_sized_max_entries", m)
	}

	// The two iterator programs: one array each, in the same data source.
	var got []uint64
	for range 2 {
		select {
		case a := <-arrays:
			got = append(got, a.which...)
		case <-run.Done():
			t.Fatalf("the run ended before both iterators' arrays: %v", run.Wait())
		case <-time.After(time.Minute):
			t.Fatal("no iterator array in a minute (hang guard)")
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("iterator records from programs %v, want one from each of 1 and 2", got)
	}

	// A loopback UDP packet, received: by then it has passed the packet socket's filter and
	// lo's tc ingress.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.WriteTo([]byte("gadgetry"), conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
	if _, _, err := conn.ReadFrom(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	hits := run.Map("gtest_ig_hits")
	for i, name := range []string{"socket filter (socket1)", "tc classifier (classifier/ingress/gtest)"} {
		var n uint64
		if err := hits.Lookup(uint32(i), &n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s never ran on a loopback packet", name)
		}
	}

	// The uprobe on libc's exit, found through the library path.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var one uint64
	if err := run.Map("gtest_exits").Lookup(uint32(cmd.Process.Pid), &one); err != nil {
		var k uint32
		var v uint64
		var keys []uint32
		it := run.Map("gtest_exits").Iterate()
		for it.Next(&k, &v) {
			keys = append(keys, k)
		}
		t.Errorf("uprobe/libc:exit did not see /bin/true (pid %d) exit: %v (saw %v)", cmd.Process.Pid, err, keys)
	}

	run.Stop()
	gadgettest.CheckClean(t, prefix, before)
}

// TestIGStyleLoadConventions: what a run loads, from its own parameters: a map declared with
// max_entries 0 takes the run's <map>_max_entries (0 is refused, naming the flag), and a map
// pinned by name is created once under /sys/fs/bpf and shared by the next load.
func TestIGStyleLoadConventions(t *testing.T) {
	gadgettest.RequireRoot(t)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igpinned", gadgettest.Compile(t, "igstyle", "-DWITH_PINNED"),
		"params:\n  ebpf:\n    gtest_sized_max_entries:\n      key: sized-max-entries\n"))
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := runtime.LoadSpecForTest(g, map[string]string{"sized-max-entries": "32"})
	if err != nil {
		t.Fatal(err)
	}
	if n := spec.Maps["gtest_sized"].MaxEntries; n != 32 {
		t.Errorf("--sized-max-entries=32 gave the map %d entries", n)
	}
	_, _, err = runtime.LoadSpecForTest(g, map[string]string{"sized-max-entries": "0"})
	wantErr(t, err, "map gtest_sized is sized by gtest_sized_max_entries, which is 0", "--sized-max-entries")

	pins := g.PinnedMaps()
	if len(pins) != 1 || pins[0] != "/sys/fs/bpf/gtest_ig_shared" {
		t.Fatalf("pinned maps %v", pins)
	}
	os.Remove(pins[0]) // left by an earlier, interrupted run
	defer os.Remove(pins[0])
	load := func() *ebpf.Collection {
		t.Helper()
		spec, opts, err := runtime.LoadSpecForTest(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Maps.PinPath != runtime.PinRoot {
			t.Fatalf("pin path %q, want %s", opts.Maps.PinPath, runtime.PinRoot)
		}
		// Only the maps: the programs are the run's business.
		c, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Maps: spec.Maps}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := load()
	defer first.Close()
	if err := first.Maps["gtest_ig_shared"].Put(uint32(0), uint64(42)); err != nil {
		t.Fatal(err)
	}
	second := load()
	defer second.Close()
	var v uint64
	if err := second.Maps["gtest_ig_shared"].Lookup(uint32(0), &v); err != nil || v != 42 {
		t.Errorf("the second load's pinned map holds %d (%v), want the 42 the first load wrote: not shared", v, err)
	}
}
