package wasmtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

func requireKernel(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the object is built for x86-64; GOARCH is %s", runtime.GOARCH)
	}
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	if err := features.HaveProgramType(ebpf.RawTracepoint); errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("kernel lacks raw tracepoints: %v", err)
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		t.Skipf("kernel without BTF: tp_btf/sys_exit cannot attach: %v", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
}

func buildObject(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(gadgettest.CompileFile(t, "../program.bpf.c")))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// newDataSource describes struct syscall_record as the runtime would from BTF.
func newDataSource(t *testing.T, spec *ebpf.CollectionSpec) *datasource.DataSource {
	t.Helper()
	var st *btf.Struct
	if err := spec.Types.TypeByName("syscall_record", &st); err != nil {
		t.Fatal(err)
	}
	ds := datasource.New("traceloop", datasource.TypeSingle, int(st.Size))
	for _, x := range recordLayout {
		if _, err := ds.AddStaticField(x.name, x.kind, x.off, x.size); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

type dataSources struct{ ds *datasource.DataSource }

func (d dataSources) DataSource(name string) *datasource.DataSource {
	if name == d.ds.Name {
		return d.ds
	}
	return nil
}
func (d dataSources) NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error) {
	return datasource.New(name, typ, 0), nil
}
func (d dataSources) Unreference(*datasource.DataSource) error { return nil }
func (d dataSources) IsReferenced(*datasource.DataSource) bool { return true }

type maps struct{ coll **ebpf.Collection }

func (m maps) Map(name string) (*ebpf.Map, error) {
	if *m.coll == nil {
		return nil, errors.New("not loaded")
	}
	if mp, ok := (*m.coll).Maps[name]; ok {
		return mp, nil
	}
	return nil, errors.New("no map " + name)
}

// gadget is the WASM module instantiated against the eBPF object, not yet loaded.
type gadget struct {
	spec   *ebpf.CollectionSpec
	ds     *datasource.DataSource
	inst   *wasm.Instance
	config map[string]string
	coll   *ebpf.Collection
}

func newGadget(t *testing.T, module []byte, spec *ebpf.CollectionSpec, params map[string]string) *gadget {
	t.Helper()
	eng, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	g := &gadget{spec: spec.Copy(), config: map[string]string{}}
	g.ds = newDataSource(t, g.spec)
	env := wasm.Env{
		DataSources: dataSources{g.ds},
		Maps:        maps{&g.coll},
		Param: func(key string) (string, bool) {
			v, ok := params[key]
			return v, ok
		},
		SetConfig: func(key, value string) error { g.config[key] = value; return nil },
	}
	if g.inst, err = eng.Instantiate(context.Background(), "traceloop", module, "sha256:traceloop-test", env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.inst.Close()
		if g.coll != nil {
			g.coll.Close()
		}
	})
	return g
}

// load applies the configuration the module set, as the runtime does, and loads the object.
func (g *gadget) load(t *testing.T) {
	t.Helper()
	on, _ := strconv.ParseBool(g.config["filter_syscalls"])
	if err := g.spec.Variables["filter_syscalls"].Set(on); err != nil {
		t.Fatal(err)
	}
	var err error
	if g.coll, err = ebpf.NewCollection(g.spec); err != nil {
		t.Fatalf("loading: %v", err)
	}
}

func syscallNr(t *testing.T, name string) uint32 {
	t.Helper()
	data, err := os.ReadFile("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "__NR_"+name {
			n, _ := strconv.Atoi(f[2])
			return uint32(n)
		}
	}
	t.Fatalf("no __NR_%s", name)
	return 0
}

// TestFilterFromParameter is the WASM half of the acceptance test: `--syscall-filters` with
// spaces, quotes and a duplicate becomes the filter (before load and attach); the traced calls
// get their `args`; the flight recorder holds them back and prints them, in order, at stop
// (with --stream they pass at once).
func TestFilterFromParameter(t *testing.T) {
	requireKernel(t)
	module, spec := gadgettest.WASM(t, "../go"), buildObject(t)
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) { filterFromParameter(t, module, spec, stream) })
	}
}

func filterFromParameter(t *testing.T, module []byte, spec *ebpf.CollectionSpec, stream bool) {
	g := newGadget(t, module, spec, map[string]string{
		"syscall-filters": ` openat , "write",openat`, "stream": strconv.FormatBool(stream), "max-records": "1000",
	})
	if err := g.inst.Init(); err != nil {
		t.Fatalf("gadgetInit: %v", err)
	}
	if err := g.inst.PreStart(); err != nil {
		t.Fatalf("gadgetPreStart: %v", err)
	}
	if g.config["filter_syscalls"] != "true" {
		t.Fatalf("the module did not turn filter_syscalls on before load (config %v)", g.config)
	}
	g.load(t)
	if err := g.inst.Start(); err != nil {
		t.Fatalf("gadgetStart: %v", err)
	}
	openat, write := syscallNr(t, "openat"), syscallNr(t, "write")
	var selected []uint32
	var v uint8
	for nr := uint32(0); nr < 1024; nr++ {
		if err := g.coll.Maps["syscall_filter"].Lookup(nr, &v); err != nil {
			t.Fatal(err)
		}
		if v != 0 {
			selected = append(selected, nr)
		}
	}
	if len(selected) != 2 || selected[0] != write || selected[1] != openat {
		t.Fatalf("syscall_filter selects %v, want write (%d) and openat (%d)", selected, write, openat)
	}
	var dec [4]uint8
	if err := g.coll.Maps["syscall_decode"].Lookup(openat, &dec); err != nil || dec[0] != 2 {
		t.Fatalf("syscall_decode[openat] = %v, %v; want the path in argument 2", dec, err)
	}

	// Attach, then make known calls on one thread.
	rd, err := ringbuf.NewReader(g.coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	le, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: g.coll.Programs["traceloop_sys_enter"]})
	if err != nil {
		t.Fatal(err)
	}
	defer le.Close()
	lx, err := link.AttachTracing(link.TracingOptions{Program: g.coll.Programs["traceloop_sys_exit"]})
	if err != nil {
		t.Fatal(err)
	}
	defer lx.Close()
	dir := t.TempDir()
	runtime.LockOSThread()
	tid := uint32(syscall.Gettid())
	fd, err := syscall.Open(filepath.Join(dir, "data"), syscall.O_CREAT|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Write(fd, []byte("hello traceloop"))
	syscall.Close(fd)
	syscall.Open(filepath.Join(dir, "missing"), syscall.O_RDONLY, 0)
	runtime.UnlockOSThread()
	le.Close()
	lx.Close()

	// What reaches the output: a subscriber after the module's.
	var out []string
	tidF, argsF, errF := g.ds.Field("proc.tid"), g.ds.Field("args"), g.ds.Field("error_raw")
	g.ds.Subscribe(1000, func(ds *datasource.DataSource, d *datasource.Data) error {
		if uint32(tidF.Uint(d)) == tid {
			out = append(out, argsF.String(d)+" errno="+strconv.Itoa(int(errF.Uint(d))))
		}
		return nil
	})
	var recs [][]byte
	for {
		rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec.RawSample)
	}
	emit := func(raw []byte) {
		d := g.ds.NewData()
		copy(d.Raw, raw)
		if _, err := g.ds.Emit(d); err != nil {
			t.Fatal(err)
		}
	}
	// Without --stream, the thread's last record arrives after gadgetStop, as one the kernel
	// writes between the runtime's last read and the detach does: it must come out after the
	// replay, formatted like the others.
	late := -1
	for i, raw := range recs {
		d := g.ds.NewData()
		copy(d.Raw, raw)
		if !stream && uint32(tidF.Uint(d)) == tid {
			late = i
		}
	}
	for i, raw := range recs {
		if i != late {
			emit(raw)
		}
	}
	if !stream && len(out) != 0 {
		t.Fatalf("records printed before the end of the run (not --stream): %q", out)
	}
	if stream && len(out) == 0 {
		t.Fatal("--stream: nothing printed while the run goes on")
	}
	if err := g.inst.Stop(); err != nil {
		t.Fatalf("gadgetStop: %v", err)
	}
	if late >= 0 {
		emit(recs[late])
	}
	want := []string{
		`AT_FDCWD, "` + filepath.Join(dir, "data") + `" errno=0`,
		"", // the write: fd, buffer address, 15
		`AT_FDCWD, "` + filepath.Join(dir, "missing") + `" errno=2`,
	}
	if len(out) != len(want) {
		t.Fatalf("printed at stop: %q, want openat, write, openat", out)
	}
	for i, w := range want {
		if w == "" {
			if !strings.HasPrefix(out[i], strconv.Itoa(fd)+", 0x") || !strings.HasSuffix(out[i], ", 15 errno=0") {
				t.Errorf("write printed as %q, want %d, 0x..., 15", out[i], fd)
			}
		} else if out[i] != w {
			t.Errorf("record %d printed as %q, want %q", i, out[i], w)
		}
	}
}

// TestUnknownSyscallFailsBeforeLoad: a misspelt name fails gadgetInit, naming it with the
// closest real names; nothing was loaded.
func TestUnknownSyscallFailsBeforeLoad(t *testing.T) {
	requireKernel(t)
	module, spec := gadgettest.WASM(t, "../go"), buildObject(t)
	g := newGadget(t, module, spec, map[string]string{"syscall-filters": "openat,wirte"})
	err := g.inst.Init()
	if err == nil {
		t.Fatal("gadgetInit accepted the unknown syscall wirte")
	}
	if !strings.Contains(err.Error(), `"wirte"`) || !strings.Contains(err.Error(), "did you mean write") {
		t.Errorf("error %q should name wirte and suggest write", err)
	}
}
