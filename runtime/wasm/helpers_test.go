package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// guest builds testdata/<name> once per test binary run and returns the module.
func guest(tb testing.TB, name string) []byte {
	tb.Helper()
	return gadgettest.WASM(tb, filepath.Join("testdata", name))
}

// logRecorder is a slog handler that keeps messages (and "result k=v" lines as a map).
type logRecorder struct {
	mu      sync.Mutex
	msgs    []string
	results map[string]string
	level   slog.Level
}

func newRecorder() *logRecorder {
	return &logRecorder{results: map[string]string{}, level: slog.LevelDebug}
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *logRecorder) WithGroup(string) slog.Handler                { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.msgs = append(r.msgs, line)
	if kv, ok := strings.CutPrefix(rec.Message, "result "); ok {
		k, v, _ := strings.Cut(kv, "=")
		r.results[k] = v
	}
	return nil
}

func (r *logRecorder) result(k string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[k]
}

func (r *logRecorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

// fakeRun is the Env of the tests: real data sources and real BPF maps.
type fakeRun struct {
	mu       sync.Mutex
	ds       map[string]*datasource.DataSource
	unref    map[string]bool
	maps     map[string]*ebpf.Map
	params   map[string]string
	config   map[string]string
	log      *logRecorder
	events   *datasource.DataSource
	pid      *datasource.Field
	comm     *datasource.Field
	arr, val *datasource.DataSource
}

func newFakeRun(t testing.TB, params map[string]string) *fakeRun {
	r := &fakeRun{ds: map[string]*datasource.DataSource{}, unref: map[string]bool{}, maps: map[string]*ebpf.Map{},
		params: params, config: map[string]string{}, log: newRecorder()}
	ev := datasource.New("events", datasource.TypeSingle, 20)
	r.pid, _ = ev.AddStaticField("pid", datasource.KindUint32, 0, 4)
	r.comm, _ = ev.AddStaticField("comm", datasource.KindCString, 4, 16)
	r.events = ev
	r.ds["events"] = ev
	arr := datasource.New("arr", datasource.TypeArray, 4)
	arr.AddStaticField("val", datasource.KindUint32, 0, 4)
	r.arr = arr
	r.ds["arr"] = arr
	return r
}

func (r *fakeRun) env() Env {
	return Env{
		Logger:      slog.New(r.log),
		DataSources: r,
		Maps:        r,
		Param: func(k string) (string, bool) {
			v, ok := r.params[k]
			return v, ok
		},
		SetConfig:            func(k, v string) error { r.config[k] = v; return nil },
		ShouldDiscardMntnsID: func(id uint64) bool { return id == 5 },
		KallsymsSymbolExists: func(name string) bool { return name == "gadgetry_test_symbol" },
	}
}

func (r *fakeRun) DataSource(name string) *datasource.DataSource { return r.ds[name] }
func (r *fakeRun) NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error) {
	if _, dup := r.ds[name]; dup {
		return nil, fmt.Errorf("data source %q exists", name)
	}
	ds := datasource.New(name, typ, 0)
	r.ds[name] = ds
	return ds, nil
}
func (r *fakeRun) Unreference(ds *datasource.DataSource) error { r.unref[ds.Name] = true; return nil }
func (r *fakeRun) IsReferenced(ds *datasource.DataSource) bool { return !r.unref[ds.Name] }
func (r *fakeRun) Map(name string) (*ebpf.Map, error) {
	m, ok := r.maps[name]
	if !ok {
		return nil, fmt.Errorf("no map %q in the collection", name)
	}
	return m, nil
}

func (r *fakeRun) emit(t testing.TB, pid uint32, comm string) (dropped bool, d *datasource.Data) {
	d = r.events.NewData()
	r.pid.SetUint(d, uint64(pid))
	r.comm.SetString(d, comm)
	dropped, err := r.events.Emit(d)
	if err != nil {
		t.Fatalf("emit: %v", err)
	}
	return dropped, d
}

// requireBPF skips (or fails under CI) when BPF maps cannot be created.
func requireBPF(t testing.TB) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("creating a BPF map: %v (tests need root)", err)
		}
		t.Skipf("creating a BPF map: %v (run as root)", err)
	}
	m.Close()
}
