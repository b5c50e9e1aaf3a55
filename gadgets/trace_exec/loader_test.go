package traceexec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// This file is the test-only stand-in for the runtime: it builds program.bpf.c, loads it with
// cilium/ebpf the way the runtime will (optional programs may fail, syscall programs only when
// failed execs are wanted), and decodes records through the object's own BTF, so a layout
// mistake in the C struct shows up as a wrong field here rather than being mirrored.

// objectPath builds the gadget (inside the vmtest VM: finds the object built before boot).
func objectPath(t testing.TB) string {
	t.Helper()
	return vmtest.BPFObject(t, "testdata/trace_exec.bpf.c")
}

type tracerOptions struct {
	ignoreFailed bool
	// keepOptional tries the security_bprm_check programs (fentry, then kprobe).
	keepOptional bool
	// onlyHook limits keepOptional to one of them ("fentry" or "kprobe").
	onlyHook string
	// filterMntns turns on the in-kernel mount namespace filter (gadget_mntns_filter_map).
	filterMntns bool
}

// tracer is a loaded and attached trace_exec.
type tracer struct {
	coll     *ebpf.Collection
	links    []link.Link
	reader   *ringbuf.Reader
	layout   *layout
	bprmHook string // "fentry", "kprobe" or "" when neither could be attached

	mu     sync.Mutex
	events []event
	stop   chan struct{}
	done   chan struct{}
}

var optionalPrograms = []string{"bprm_check_fentry", "bprm_check_kprobe"}
var failedPrograms = []string{"execve_enter", "execveat_enter", "execve_exit", "execveat_exit"}

func startTracer(t testing.TB, opts tracerOptions) *tracer {
	t.Helper()
	gadgettest.RequireRoot(t)
	kernel.Require(t, kernel.BTF, kernel.RawTracepoint, kernel.RingBuf)
	spec, err := ebpf.LoadCollectionSpec(objectPath(t))
	if err != nil {
		t.Fatalf("reading the object: %v", err)
	}
	lay, err := newLayout(spec.Types)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["ignore_failed"].Set(opts.ignoreFailed); err != nil {
		t.Fatalf("setting ignore_failed: %v", err)
	}
	if err := spec.Variables["gadget_filter_by_mntns"].Set(opts.filterMntns); err != nil {
		t.Fatalf("setting gadget_filter_by_mntns: %v", err)
	}
	optional := map[string]*ebpf.ProgramSpec{}
	for _, name := range optionalPrograms {
		optional[name] = spec.Programs[name]
		delete(spec.Programs, name)
	}
	if opts.ignoreFailed {
		// What gadget.yaml's attach_to: gadget_program_disabled will do in the runtime.
		for _, name := range failedPrograms {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("loading trace_exec: %+v", ve)
		}
		t.Fatalf("loading trace_exec: %v", err)
	}
	tr := &tracer{coll: coll, layout: lay, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(tr.close)

	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: coll.Programs["trace_exec"]})
	if err != nil {
		t.Fatalf("attaching raw_tracepoint/sched_process_exec: %v", err)
	}
	tr.links = append(tr.links, l)
	if !opts.ignoreFailed {
		for _, name := range failedPrograms {
			sec := coll.Programs[name]
			tp := strings.TrimPrefix(spec.Programs[name].SectionName, "tracepoint/syscalls/")
			l, err := link.Tracepoint("syscalls", tp, sec, nil)
			if err != nil {
				t.Fatalf("attaching %s to syscalls:%s: %v", name, tp, err)
			}
			tr.links = append(tr.links, l)
		}
	}
	if opts.keepOptional {
		tr.attachBprmHook(t, optional, opts.onlyHook)
	}

	tr.reader, err = ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatalf("opening the events ring buffer: %v", err)
	}
	go tr.poll()
	return tr
}

// attachBprmHook loads the first security_bprm_check program this kernel accepts.
func (tr *tracer) attachBprmHook(t testing.TB, optional map[string]*ebpf.ProgramSpec, only string) {
	t.Helper()
	for _, name := range optionalPrograms {
		if only != "" && name != "bprm_check_"+only {
			continue
		}
		ps := optional[name]
		prog, err := ebpf.NewProgramWithOptions(withMaps(ps, tr.coll), ebpf.ProgramOptions{})
		if err != nil {
			t.Logf("optional program %s not loadable here: %v", name, err)
			continue
		}
		var l link.Link
		if ps.Type == ebpf.Kprobe {
			l, err = link.Kprobe("security_bprm_check", prog, nil)
		} else {
			l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		}
		prog.Close()
		if err != nil {
			t.Logf("optional program %s not attachable here: %v", name, err)
			continue
		}
		tr.links = append(tr.links, l)
		tr.bprmHook = strings.TrimPrefix(name, "bprm_check_")
		return
	}
	t.Logf("no security_bprm_check hook on this kernel: fupper_layer of scripts is unknown")
}

// withMaps rewrites a program's map references to the maps of the loaded collection.
func withMaps(ps *ebpf.ProgramSpec, coll *ebpf.Collection) *ebpf.ProgramSpec {
	ps = ps.Copy()
	for name, m := range coll.Maps {
		_ = ps.Instructions.AssociateMap(name, m)
	}
	return ps
}

func (tr *tracer) poll() {
	defer close(tr.done)
	for {
		select {
		case <-tr.stop:
			return
		default:
		}
		tr.mu.Lock()
		tr.drainLocked(time.Now().Add(20 * time.Millisecond))
		tr.mu.Unlock()
	}
}

// drainLocked decodes every record the ring buffer holds, waiting for data until deadline. The
// gadget submits without wake-ups, so the wait always runs to the deadline.
func (tr *tracer) drainLocked(deadline time.Time) {
	var rec ringbuf.Record
	tr.reader.SetDeadline(deadline)
	for {
		if err := tr.reader.ReadInto(&rec); err != nil {
			return
		}
		ev, err := tr.layout.decode(rec.RawSample)
		if err != nil {
			panic(err)
		}
		tr.events = append(tr.events, ev)
	}
}

// snapshot returns every event committed before the call.
func (tr *tracer) snapshot() []event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.drainLocked(time.Now())
	return append([]event(nil), tr.events...)
}

func (tr *tracer) lost(t testing.TB) uint64 {
	t.Helper()
	var perCPU []uint64
	if err := tr.coll.Maps["events_lost_samples"].Lookup(uint32(0), &perCPU); err != nil {
		t.Fatalf("reading events_lost_samples: %v", err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n
}

func (tr *tracer) close() {
	for _, l := range tr.links {
		l.Close()
	}
	tr.links = nil
	if tr.reader != nil {
		close(tr.stop)
		<-tr.done
		tr.reader.Close()
		tr.reader = nil
	}
	tr.coll.Close()
}

// event is the test's view of one record of struct event.
type event struct {
	Timestamp                         uint64
	Comm                              string
	Pid, Tid                          uint32
	MntnsID                           uint64
	UID, GID                          uint32
	ParentComm                        string
	ParentPid                         uint32
	CgroupID                          uint64
	LoginUID, SessionID               uint32
	Error                             uint32
	Upper, FUpper, PUpper             string
	Fileless                          bool
	ArgsTruncated, ExeTrunc, CwdTrunc bool
	ArgsCount, ArgsSize               uint32
	TTY, Exepath, Cwd, File, Interp   string
	Args                              []string
}

// layout finds fields of struct event by name in the object's BTF.
type layout struct {
	size   int
	fields map[string]fieldPos
	enum   map[uint64]string
}

type fieldPos struct{ off, size int }

func newLayout(types *btf.Spec) (*layout, error) {
	var st *btf.Struct
	if err := types.TypeByName("event", &st); err != nil {
		return nil, fmt.Errorf("struct event not in the object's BTF: %w", err)
	}
	l := &layout{size: int(st.Size), fields: map[string]fieldPos{}, enum: map[uint64]string{}}
	var walk func(prefix string, s *btf.Struct, base int) error
	walk = func(prefix string, s *btf.Struct, base int) error {
		for _, m := range s.Members {
			off := base + int(m.Offset.Bytes())
			if inner, ok := btf.UnderlyingType(m.Type).(*btf.Struct); ok {
				if err := walk(prefix+m.Name+".", inner, off); err != nil {
					return err
				}
				continue
			}
			size, err := btf.Sizeof(m.Type)
			if err != nil {
				return err
			}
			l.fields[prefix+m.Name] = fieldPos{off, size}
			if en, ok := btf.UnderlyingType(m.Type).(*btf.Enum); ok {
				for _, v := range en.Values {
					l.enum[v.Value] = v.Name
				}
			}
		}
		return nil
	}
	if err := walk("", st, 0); err != nil {
		return nil, err
	}
	if len(l.enum) != 3 {
		return nil, fmt.Errorf("enum upper_layer_state not found in struct event's BTF")
	}
	return l, nil
}

func (l *layout) decode(b []byte) (event, error) {
	if len(b) < l.size {
		return event{}, fmt.Errorf("record of %d bytes, struct event has %d", len(b), l.size)
	}
	u := func(name string) uint64 {
		p, ok := l.fields[name]
		if !ok {
			panic("no field " + name)
		}
		switch p.size {
		case 1:
			return uint64(b[p.off])
		case 4:
			return uint64(binary.LittleEndian.Uint32(b[p.off:]))
		case 8:
			return binary.LittleEndian.Uint64(b[p.off:])
		}
		panic(fmt.Sprintf("field %s of size %d", name, p.size))
	}
	str := func(name string) string {
		p := l.fields[name]
		s := b[p.off : p.off+p.size]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return string(s)
	}
	enum := func(name string) string {
		n, ok := l.enum[u(name)]
		if !ok {
			return fmt.Sprintf("invalid(%d)", u(name))
		}
		return strings.ToLower(n)
	}
	ev := event{
		Timestamp:     u("timestamp_raw"),
		Comm:          str("proc.comm"),
		Pid:           uint32(u("proc.pid")),
		Tid:           uint32(u("proc.tid")),
		MntnsID:       u("proc.mntns_id"),
		UID:           uint32(u("proc.creds.uid")),
		GID:           uint32(u("proc.creds.gid")),
		ParentComm:    str("proc.parent.comm"),
		ParentPid:     uint32(u("proc.parent.pid")),
		CgroupID:      u("cgroup_id"),
		LoginUID:      uint32(u("loginuid")),
		SessionID:     uint32(u("sessionid")),
		Error:         uint32(u("error_raw")),
		Upper:         enum("upper_layer"),
		FUpper:        enum("fupper_layer"),
		PUpper:        enum("pupper_layer"),
		Fileless:      u("fileless") != 0,
		ArgsTruncated: u("args_truncated") != 0,
		ExeTrunc:      u("exepath_truncated") != 0,
		CwdTrunc:      u("cwd_truncated") != 0,
		ArgsCount:     uint32(u("args_count")),
		ArgsSize:      uint32(u("args_size")),
		TTY:           str("tty"),
		Exepath:       str("exepath"),
		Cwd:           str("cwd"),
		File:          str("file"),
		Interp:        str("interp"),
	}
	ap := l.fields["args"]
	if int(ev.ArgsSize) > ap.size {
		return ev, fmt.Errorf("args_size %d larger than args[%d]", ev.ArgsSize, ap.size)
	}
	raw := b[ap.off : ap.off+int(ev.ArgsSize)]
	// NUL-terminated strings ("\x00" is one empty argument); the last NUL is missing when cut.
	if len(raw) > 0 {
		ev.Args = strings.Split(string(bytes.TrimSuffix(raw, []byte{0})), "\x00")
	}
	return ev, nil
}
