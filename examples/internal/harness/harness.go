// Package harness runs an example gadget directory (program.bpf.c, gadget.yaml, go/) for the
// examples' tests without the full run pipeline: it compiles the eBPF program and the WASM
// module, loads the collection, runs the WASM lifecycle in the documented order (gadgetStart
// before attach), attaches the tracepoints and feeds ring buffer records through the data
// source. The end-to-end path through `gadgetry run` is tested by the runtime.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// Tracer names the data source of the example and where its records come from.
type Tracer struct {
	DataSource, Map, Struct string
}

// Session is a running example gadget.
type Session struct {
	DS   *datasource.DataSource
	Inst *wasm.Instance

	t       testing.TB
	eng     *wasm.Engine
	coll    *ebpf.Collection
	links   []link.Link
	rd      *ringbuf.Reader
	done    chan struct{}
	mu      sync.Mutex
	stopped bool
}

// Build compiles dir/program.bpf.c and dir/go (each once per test binary run) and returns the
// object and the module.
func Build(t testing.TB, dir string) (obj, module []byte) {
	t.Helper()
	return gadgettest.CompileFile(t, filepath.Join(dir, "program.bpf.c")), gadgettest.WASM(t, filepath.Join(dir, "go"))
}

type env struct {
	ds   *datasource.DataSource
	coll *ebpf.Collection
}

func (e *env) DataSource(name string) *datasource.DataSource {
	if name == e.ds.Name {
		return e.ds
	}
	return nil
}
func (e *env) NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error) {
	return nil, errors.New("the example harness has one data source")
}
func (e *env) Unreference(*datasource.DataSource) error { return nil }
func (e *env) IsReferenced(*datasource.DataSource) bool { return true }
func (e *env) Map(name string) (*ebpf.Map, error) {
	if e.coll == nil {
		return nil, errors.New("collection not loaded")
	}
	m, ok := e.coll.Maps[name]
	if !ok {
		return nil, fmt.Errorf("no map %q", name)
	}
	return m, nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Start builds and runs the example in dir with the given WASM parameters. subscribe is
// called after gadgetInit (so it sees what the guest left) and before any event.
func Start(t testing.TB, dir string, tr Tracer, params map[string]string, subscribe func(ds *datasource.DataSource)) *Session {
	t.Helper()
	s, err := Try(t, dir, tr, params, subscribe)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Try is Start returning the error of a lifecycle hook instead of failing the test.
func Try(t testing.TB, dir string, tr Tracer, params map[string]string, subscribe func(ds *datasource.DataSource)) (*Session, error) {
	t.Helper()
	gadgettest.RequireRoot(t)
	obj, module := Build(t, dir)
	abs, _ := filepath.Abs(dir)
	name := filepath.Base(abs)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	var st *btf.Struct
	if err := spec.Types.TypeByName(tr.Struct, &st); err != nil {
		t.Fatalf("struct %s: %v", tr.Struct, err)
	}
	ds, err := decode.DataSource(tr.DataSource, st)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ds: ds}
	eng, err := wasm.NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{DS: ds, t: t, eng: eng, done: make(chan struct{})}
	t.Cleanup(s.Stop)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Inst, err = eng.Instantiate(context.Background(), name, module, "", wasm.Env{
		Logger: logger, DataSources: e, Maps: e,
		Param: func(k string) (string, bool) { v, ok := params[k]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Inst.Init(); err != nil {
		return nil, err
	}
	if subscribe != nil {
		subscribe(ds)
	}
	if err := s.Inst.PreStart(); err != nil {
		return nil, err
	}
	s.coll, err = ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %s: %v", dir, err)
	}
	e.coll = s.coll
	if err := s.Inst.Start(); err != nil {
		return nil, err
	}
	for name, p := range spec.Programs {
		grp, tp, ok := strings.Cut(strings.TrimPrefix(p.SectionName, "tracepoint/"), "/")
		if !ok || !strings.HasPrefix(p.SectionName, "tracepoint/") {
			t.Fatalf("program %s: the harness attaches tracepoints only, not %s", name, p.SectionName)
		}
		l, err := link.Tracepoint(grp, tp, s.coll.Programs[name], nil)
		if err != nil {
			t.Fatalf("attaching %s: %v", name, err)
		}
		s.links = append(s.links, l)
	}
	s.rd, err = ringbuf.NewReader(s.coll.Maps[tr.Map])
	if err != nil {
		t.Fatal(err)
	}
	go s.read()
	return s, nil
}

func (s *Session) read() {
	defer close(s.done)
	var rec ringbuf.Record
	for {
		s.rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
		err := s.rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return // closed
		}
		d := s.DS.NewData()
		copy(d.Raw, rec.RawSample)
		if _, err := s.DS.Emit(d); err != nil {
			s.t.Errorf("emit: %v", err)
		}
	}
}

// Stop runs the end of the lifecycle (gadgetStop, detach, gadgetPostStop) and frees all.
func (s *Session) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.Inst != nil && s.coll != nil {
		if err := s.Inst.Stop(); err != nil {
			s.t.Error(err)
		}
	}
	for _, l := range s.links {
		l.Close()
	}
	if s.rd != nil {
		s.rd.Close()
		<-s.done
	}
	if s.Inst != nil {
		if s.coll != nil {
			if err := s.Inst.PostStop(); err != nil {
				s.t.Error(err)
			}
		}
		s.Inst.Close()
	}
	if s.coll != nil {
		s.coll.Close()
	}
	s.eng.Close()
}
