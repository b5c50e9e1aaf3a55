package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/sockets"
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
	keys := map[string]string{}
	for _, p := range g.Params {
		keys[p.Key] = p.Variable
	}
	if keys["collect-ustack"] != "collect_ustack" || keys["sized-max-entries"] != "gtest_sized_max_entries" {
		t.Errorf("parameter keys %v: want collect-ustack (IG's key for collect_ustack) and gadget.yaml's sized-max-entries", keys)
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

// lockedBuffer collects a logger's output from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// requireCPUClock skips when the kernel has no software CPU-clock perf event (what IG's
// profile_cpu samples), probed by opening one on CPU 0.
func requireCPUClock(t *testing.T) {
	t.Helper()
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Sample: 1000, Bits: unix.PerfBitFreq | unix.PerfBitDisabled}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		t.Skipf("the kernel has no software CPU-clock perf event: %v", err)
	}
	if err != nil {
		t.Fatalf("probing the CPU-clock perf event: %v", err)
	}
	unix.Close(fd)
}

const igAttachYAML = `programs:
  gtest_sampler:
    perf:
      type: software
      config: count_sw_cpu_clock
      sampleType: sample_raw
    sampler:
      frequency: 1000
datasources:
  gtest_rest:
    annotations:
      ebpf.rest.name: payload
      ebpf.rest.len: payload_len
    fields:
      payload:
        annotations:
          description: what follows the struct
  gtest_rest_all:
    annotations:
      ebpf.rest.name: payload
`

// TestIGStyleAttach runs testdata/igattach.bpf.c: its perf_event program, named in gadget.yaml
// by its section's perf_event/<name>, samples the CPU clock on every CPU; its uprobes on a
// symbol libc lacks and on a library that is not installed are left out with a warning naming
// program, library and symbol, and the run goes on; its records longer than their struct give
// the trailing bytes as the field ebpf.rest.name names, cut to the field ebpf.rest.len names
// (perf event array), or all of them (ring buffer).
func TestIGStyleAttach(t *testing.T) {
	gadgettest.RequireRoot(t)
	requireCPUClock(t)
	obj := gadgettest.Compile(t, "igattach")
	before := gadgettest.Objects(t, prefix)
	var log lockedBuffer
	rt := runtime.New(runtime.Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igattach", obj, igAttachYAML))
	if err != nil {
		t.Fatal(err)
	}
	if p := g.Program("gtest_ig_sample"); p == nil || p.Perf == nil || p.Perf.Frequency != 1000 || p.Perf.Config != "count_sw_cpu_clock" {
		t.Fatalf("perf_event program's event from programs.gtest_sampler: %+v", p)
	}
	type rec struct {
		ds      string
		pid     uint64
		payload string
	}
	recs := make(chan rec, 16)
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "test", Init: func(r *runtime.Run) error {
		for _, name := range []string{"gtest_rest", "gtest_rest_all"} {
			ds := r.DataSource(name)
			pid, payload := field(t, ds, "pid"), field(t, ds, "payload")
			if payload.Kind != datasource.KindBytes || payload.Annotations["description"] != "what follows the struct" && name == "gtest_rest" {
				t.Errorf("%s: payload field %s %v: want bytes, annotated from gadget.yaml", name, payload.Kind, payload.Annotations)
			}
			ds.Subscribe(0, func(ds *datasource.DataSource, d *datasource.Data) error {
				recs <- rec{ds.Name, pid.Uint(d), string(payload.Bytes(d))}
				return nil
			})
		}
		return nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()

	logs := log.String()
	for _, want := range [][]string{
		{"gtest_ig_nosym", "uprobe/libc:gtest_no_such_function", "libc.so", "has no symbol gtest_no_such_function"},
		{"gtest_ig_nolib", "libgtest_absent", "gtest_fn"},
	} {
		ok := false
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "not attached") && containsAll(line, want) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no warning naming %q in:\n%s", want, logs)
		}
	}

	// The trailing data: one record in each data source.
	_, _ = unix.Getsid(0x7eadbeef) // no such process: the tracepoint sees the call
	got := map[string]rec{}
	for len(got) < 2 {
		select {
		case r := <-recs:
			if r.pid == uint64(os.Getpid()) {
				got[r.ds] = r
			}
		case <-run.Done():
			t.Fatalf("the run ended: %v", run.Wait())
		case <-time.After(time.Minute):
			t.Fatalf("records in a minute (hang guard): %v", got)
		}
	}
	if p := got["gtest_rest"].payload; p != "gadgetry-re" {
		t.Errorf("gtest_rest payload %q, want the 11 bytes payload_len says", p)
	}
	if p := got["gtest_rest_all"].payload; p != "gadgetry-rest-16" {
		t.Errorf("gtest_rest_all payload %q, want the 16 bytes after the struct", p)
	}

	// The perf_event program: samples of the CPU clock while this test keeps a CPU busy.
	var n uint64
	deadline := time.Now().Add(time.Minute) // hang guard
	for n == 0 && time.Now().Before(deadline) {
		for i := 0; i < 1e6; i++ {
			n += uint64(i & 1) // busy
		}
		n = 0
		if err := run.Map("gtest_ig_samples").Lookup(uint32(0), &n); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Error("the perf_event program counted no sample of the CPU clock in a minute of busy CPU")
	}
	run.Stop()
	gadgettest.CheckClean(t, prefix, before)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestIGStyleAttachErrors: a gadget none of whose programs can attach (its uprobes' symbol and
// library are missing) is an error naming each; a perf_event program without its event in
// gadget.yaml is an error saying which keys to write.
func TestIGStyleAttachErrors(t *testing.T) {
	gadgettest.RequireRoot(t)
	rt := runtime.New(runtime.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igmissing", gadgettest.Compile(t, "igattach", "-DONLY_MISSING"), ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err == nil {
		run.Stop()
	}
	wantErr(t, err, "no program attached", "gtest_ig_nosym", "gtest_no_such_function", "gtest_ig_nolib", "libgtest_absent")

	requireCPUClock(t)
	g, err = rt.Prepare(context.Background(), gadgettest.Image("igperf", gadgettest.Compile(t, "igattach"), ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err = rt.Start(context.Background(), g, runtime.RunOptions{})
	if err == nil {
		run.Stop()
	}
	wantErr(t, err, "gtest_ig_sample", "programs.<name>.perf", "sampler.frequency")
}

// openUDP binds a UDP socket on the loopback and returns its port and a function sending it a
// datagram.
func openUDP(t *testing.T) (int, func()) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().(*net.UDPAddr).Port, func() {
		c, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("gadgetry")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIGStyleSockets runs testdata/igsockets.bpf.c, which looks sockets up as IG's gadgets do
// (<gadget/sockets-map.h>), as a socket filter and a tc classifier (the namespace from
// skb->cb[0], written by the runtime's dispatcher) and as a tracepoint program with a struct
// sock: the socket enricher
// filled gadget_sockets with this test's socket, so the lookup gives this process, its
// command, mount namespace and user, in this network namespace.
func TestIGStyleSockets(t *testing.T) {
	gadgettest.RequireRoot(t)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if len(wd) > 63 {
		wd = wd[:63] // the gadget's field is 64 bytes
	}
	var netns, mntns unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &netns) != nil || unix.Stat("/proc/self/ns/mnt", &mntns) != nil {
		t.Fatal("reading this process's namespaces")
	}
	const yaml = "params:\n  ebpf:\n    gtest_port:\n      key: gtest-port\n"
	for _, c := range []struct {
		name  string
		flags []string
		// open makes the socket (before the run: the enricher's first scan sees it) and returns
		// its port and what makes the gadget see it.
		open func(t *testing.T) (port int, trigger func())
	}{
		{"socket filter", nil, openUDP},
		{"socket filter without paths", []string{"-DGTEST_NO_PATHS"}, openUDP},
		{"tc classifier", []string{"-DGTEST_TC"}, openUDP},
		{"tracing", []string{"-DGTEST_TRACING"}, func(t *testing.T) (int, func()) {
			ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return ln.Addr().(*net.TCPAddr).Port, func() {
				c, err := net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				a, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				a.Close()
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			port, trigger := c.open(t)
			rt := runtime.New(runtime.Options{})
			g, err := rt.Prepare(context.Background(), gadgettest.Image("igsockets", gadgettest.Compile(t, "igsockets", c.flags...), yaml))
			if err != nil {
				t.Fatal(err)
			}
			type rec struct {
				found, pid, uid, netns, mntns, paths uint64
				comm, cwd                            string
			}
			recs := make(chan rec, 64)
			run, err := rt.Start(context.Background(), g, runtime.RunOptions{
				Params: map[string]string{"gtest-port": strconv.Itoa(port)},
				Hooks: []runtime.Hooks{{Name: "test", Init: func(r *runtime.Run) error {
					ds := r.DataSource("gtest_socks")
					found, pid, uid, nsf, mnt, cm := field(t, ds, "found"), field(t, ds, "proc.pid"), field(t, ds, "proc.creds.uid"), field(t, ds, "netns_id"), field(t, ds, "proc.mntns_id"), field(t, ds, "proc.comm")
					paths, cwd := field(t, ds, "paths"), field(t, ds, "cwd")
					ds.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error {
						recs <- rec{found.Uint(d), pid.Uint(d), uid.Uint(d), nsf.Uint(d), mnt.Uint(d), paths.Uint(d), cm.String(d), cwd.String(d)}
						return nil
					})
					return nil
				}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer run.Stop()
			trigger()
			var r rec
			select {
			case r = <-recs:
			case <-run.Done():
				t.Fatalf("the run ended: %v", run.Wait())
			case <-time.After(time.Minute):
				t.Fatal("no record in a minute (hang guard)")
			}
			// IG's optional cwd, in IG's default size; a gadget that does not read it gets
			// the smaller values.
			want := rec{1, uint64(os.Getpid()), uint64(os.Getuid()), netns.Ino, mntns.Ino, sockets.PathSize, strings.TrimSpace(string(comm)), wd}
			size := uint32(sockets.ValueSize)
			if slices.Contains(c.flags, "-DGTEST_NO_PATHS") {
				want.paths, want.cwd, size = 0, "", sockets.ValueSizeNoPaths
			}
			if got := run.Map(sockets.MapName).ValueSize(); got != size {
				t.Errorf("the socket map's values are %d bytes, want %d", got, size)
			}
			if r != want {
				t.Errorf("lookup gave %+v, want %+v", r, want)
			}
		})
	}
}
