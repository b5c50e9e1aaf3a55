// The WASM module of the traceloop gadget. It turns --syscall-filters into the kernel-side
// filter (syscall_filter map, filter_syscalls constant), fills the argument-decoding table
// (syscall_decode), adds a formatted `args` field to every record, and implements the flight
// recorder: unless --stream is set, records are kept (the last --max-records per container)
// instead of printed, and printed ordered by time when the run stops.
package main

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/gadgetry/gadgetry/gadgets/traceloop/go/decode"
	"github.com/gadgetry/gadgetry/gadgets/traceloop/go/filter"
	"github.com/gadgetry/gadgetry/gadgets/traceloop/go/recorder"
	"github.com/gadgetry/gadgetry/wasmapi"
)

// maxSyscallNr bounds the syscall numbers asked of the host (MAX_SYSCALLS in program.bpf.c).
const maxSyscallNr = 1024

type gadget struct {
	nrs       []uint32 // selected syscalls, nil = all
	stream    bool
	rec       *recorder.Recorder[*snapshot]
	ds        wasmapi.DataSource
	fields    []field
	args      wasmapi.Field
	nr        wasmapi.Field    // syscall_raw
	argFields [6]wasmapi.Field // arg0..arg5
	str0      wasmapi.Field
	str1      wasmapi.Field
	sockaddr  wasmapi.Field
	syscalls  []syscallInfo // by syscall number (below maxSyscallNr), looked up once each
	at        fieldIndex    // positions in recordFields (and snapshots)
	stopped   bool          // Stop ran: events now are the recorder replay, then late records
	replay    int           // replayed packets still to come back through onEvent
	buf       []byte        // the formatted arguments of the live record (reused)
	call      decode.Call   // the live record's call (reused)
}

// field is one field of the record the recorder copies.
type field struct {
	name string
	kind wasmapi.FieldKind
	f    wasmapi.Field
}

// recordFields are the fields of struct syscall_record the recorder keeps, with their kinds.
var recordFields = []struct {
	name string
	kind wasmapi.FieldKind
}{
	{"timestamp_raw", wasmapi.KindUint64},
	{"proc.comm", wasmapi.KindString}, {"proc.pid", wasmapi.KindUint32},
	{"proc.tid", wasmapi.KindUint32}, {"proc.mntns_id", wasmapi.KindUint64},
	{"proc.creds.uid", wasmapi.KindUint32}, {"proc.creds.gid", wasmapi.KindUint32},
	{"proc.parent.comm", wasmapi.KindString}, {"proc.parent.pid", wasmapi.KindUint32},
	{"proc.parent.tid", wasmapi.KindUint32},
	{"syscall_raw", wasmapi.KindUint64},
	{"arg0", wasmapi.KindUint64}, {"arg1", wasmapi.KindUint64}, {"arg2", wasmapi.KindUint64},
	{"arg3", wasmapi.KindUint64}, {"arg4", wasmapi.KindUint64}, {"arg5", wasmapi.KindUint64},
	{"ret", wasmapi.KindInt64}, {"error_raw", wasmapi.KindUint32},
	{"duration_raw", wasmapi.KindUint64},
	{"str0", wasmapi.KindString}, {"str1", wasmapi.KindString},
	{"sockaddr", wasmapi.KindBytes},
	{"args", wasmapi.KindString},
}

// fieldIndex holds the positions in recordFields of the fields the module itself reads.
type fieldIndex struct {
	ts, mntns, nr, arg0, str0, str1, sockaddr, args int
}

// syscallInfo is what formatting a syscall's arguments needs to know of its number. Each
// record needs it: it is asked of the host and of decode.Table once per number, and kept in a
// slice, because every map lookup in a WASM guest costs a host exit per loop iteration of
// hashing and probing.
type syscallInfo struct {
	resolved bool
	name     string
	nargs    int // declared parameters, -1: undeclared
	entry    decode.Entry
	known    bool // decode.Table has an entry
	// reads is how many arguments (from arg0) formatting the call shows: only those are read
	// (decode.Shown).
	reads int
}

// snapshot is a recorded event: one value per recordFields entry.
type snapshot struct {
	u64 []uint64
	str []string
}

func (g *gadget) Init() error {
	value, err := wasmapi.GetParamValue("syscall-filters")
	if err != nil {
		return err
	}
	names, err := filter.Parse(value)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		r := filter.Resolver{
			Lookup: func(n string) (uint32, bool) {
				nr, err := wasmapi.GetSyscallID(n)
				return uint32(nr), err == nil
			},
			Names: allSyscallNames,
		}
		// Fails here, before anything is loaded or attached, naming the unknown syscalls.
		if g.nrs, err = r.Resolve(names); err != nil {
			return err
		}
	}
	if s, _ := wasmapi.GetParamValue("stream"); s != "" {
		if g.stream, err = strconv.ParseBool(s); err != nil {
			return fmt.Errorf("--stream=%q: want true or false", s)
		}
	}
	perKey := 1024
	if s, _ := wasmapi.GetParamValue("max-records"); s != "" {
		if perKey, err = strconv.Atoi(s); err != nil || perKey < 1 {
			return fmt.Errorf("--max-records=%q: want a positive number of records per container", s)
		}
	}
	g.rec = recorder.New[*snapshot](perKey)

	if g.ds, err = wasmapi.GetDataSource("traceloop"); err != nil {
		return err
	}
	if g.args, err = g.ds.AddField("args", wasmapi.KindString); err != nil {
		return err
	}
	// With --stream the module formats and passes on each record: it looks up only the fields
	// it reads, so that the host copies only those into its memory before each batch (every
	// field looked up in gadgetInit is copied, for every record). The recorder keeps them all.
	need := func(name string) bool {
		if !g.stream {
			return true
		}
		switch name {
		case "syscall_raw", "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "str0", "str1", "sockaddr":
			return true
		}
		return false
	}
	for _, rf := range recordFields {
		var f wasmapi.Field // 0: not looked up (not read with --stream)
		switch {
		case rf.name == "args":
			f = g.args
		case need(rf.name):
			if f, err = g.ds.GetField(rf.name); err != nil {
				return fmt.Errorf("traceloop record field %s: %w", rf.name, err)
			}
		}
		g.fields = append(g.fields, field{rf.name, rf.kind, f})
	}
	pos := func(name string) int {
		for i, rf := range recordFields {
			if rf.name == name {
				return i
			}
		}
		panic("traceloop: no record field " + name)
	}
	g.at = fieldIndex{
		ts: pos("timestamp_raw"), mntns: pos("proc.mntns_id"), nr: pos("syscall_raw"),
		arg0: pos("arg0"), str0: pos("str0"), str1: pos("str1"), sockaddr: pos("sockaddr"),
		args: pos("args"),
	}
	for i := range g.argFields {
		g.argFields[i] = g.fields[g.at.arg0+i].f
	}
	g.nr, g.str0, g.str1, g.sockaddr = g.fields[g.at.nr].f, g.fields[g.at.str0].f, g.fields[g.at.str1].f, g.fields[g.at.sockaddr].f
	g.syscalls = make([]syscallInfo, maxSyscallNr)
	return g.ds.Subscribe(g.onEvent, 0)
}

// PreStart turns the kernel-side filter on before the collection is loaded (it is a constant
// there, so the verifier removes the check when no filter is given).
func (g *gadget) PreStart() error {
	if g.nrs == nil {
		return nil
	}
	return wasmapi.SetConfig("filter_syscalls", "true")
}

// Start fills the filter and decoding maps: the programs are not attached yet, so the first
// recorded syscall already respects the filter.
func (g *gadget) Start() error {
	m, err := wasmapi.GetMap("syscall_filter")
	if err != nil {
		return err
	}
	defer m.Release()
	for _, nr := range g.nrs {
		if err := m.Put(binary.LittleEndian.AppendUint32(nil, nr), []byte{1}); err != nil {
			return fmt.Errorf("selecting syscall %d in syscall_filter: %w", nr, err)
		}
	}
	d, err := wasmapi.GetMap("syscall_decode")
	if err != nil {
		return err
	}
	defer d.Release()
	for name, e := range decode.Table {
		nr, err := wasmapi.GetSyscallID(name)
		if err != nil {
			continue // not a syscall of this architecture (open on arm64)
		}
		if err := d.Put(binary.LittleEndian.AppendUint32(nil, uint32(nr)), e.Bytes()); err != nil {
			return fmt.Errorf("filling syscall_decode for %s: %w", name, err)
		}
	}
	return nil
}

func (g *gadget) onEvent(ds wasmapi.DataSource, d wasmapi.Data) error {
	if g.stopped && g.replay > 0 {
		// The host hands the packets Stop emitted back to every subscriber, this module
		// included, right after Stop returns: they are complete already.
		g.replay--
		return nil
	}
	if g.stream || g.stopped {
		return g.live(d)
	}
	return g.record(d)
}

// live formats a record's arguments and passes it on. It is its own function, apart from
// the recorder's, because a TinyGo guest clears each call's frame on entry: this one runs for
// every record and keeps its frame small.
//
//go:noinline
func (g *gadget) live(d wasmapi.Data) error {
	// Live mode, or a record the kernel wrote between the host's last read before Stop
	// and the detach: it happened after everything replayed, so it is printed after them.
	// Only what the syscall's formatting uses is read: its shown arguments, and the
	// strings only for the syscalls that have them.
	nr, _ := g.nr.Uint64(d)
	s := g.syscall(nr)
	c := &g.call
	for i := 0; i < s.reads; i++ {
		c.Args[i], _ = g.argFields[i].Uint64(d)
	}
	if s.entry.Str0Arg != 0 {
		c.Str0, _ = g.str0.String(d)
	}
	if s.entry.Str1Arg != 0 {
		c.Str1, _ = g.str1.String(d)
	}
	if s.entry.SockaddrArg != 0 {
		c.Sockaddr, _ = g.sockaddr.Bytes(d)
	}
	c.Name, c.NArgs, c.Declared = s.name, s.nargs, s.nargs >= 0
	g.buf = decode.AppendCallArgs(g.buf[:0], c, s.entry, s.known)
	return g.args.SetStringBytes(d, g.buf)
}

// record keeps a record in the flight recorder and drops it from the output until Stop.
//
//go:noinline
func (g *gadget) record(d wasmapi.Data) error {
	// Recorder: one read per field (the host calls are the cost per record), the call
	// decoded from the snapshot, and the record dropped from the output until Stop.
	s := &snapshot{u64: make([]uint64, len(g.fields)), str: make([]string, len(g.fields))}
	for i, f := range g.fields {
		switch f.kind {
		case wasmapi.KindString:
			if i != g.at.args {
				s.str[i], _ = f.f.String(d)
			}
		case wasmapi.KindBytes:
			b, _ := f.f.Bytes(d)
			s.str[i] = string(b)
		case wasmapi.KindInt64:
			v, _ := f.f.Int64(d)
			s.u64[i] = uint64(v)
		case wasmapi.KindUint32:
			v, _ := f.f.Uint32(d)
			s.u64[i] = uint64(v)
		default:
			s.u64[i], _ = f.f.Uint64(d)
		}
	}
	c := decode.Call{Str0: s.str[g.at.str0], Str1: s.str[g.at.str1], Sockaddr: []byte(s.str[g.at.sockaddr])}
	for i := range c.Args {
		c.Args[i] = s.u64[g.at.arg0+i]
	}
	s.str[g.at.args] = g.format(g.syscall(s.u64[g.at.nr]), c)
	g.rec.Add(s.u64[g.at.mntns], s.u64[g.at.ts], s)
	return wasmapi.ErrDrop
}

// format fills in the call's name and arity and formats its arguments.
func (g *gadget) format(s *syscallInfo, c decode.Call) string {
	c.Name, c.NArgs, c.Declared = s.name, s.nargs, s.nargs >= 0
	return decode.ArgsFor(c, s.entry, s.known)
}

// Stop prints the flight recorder: the kept records of every container, ordered by time.
func (g *gadget) Stop() error {
	if g.stream {
		return nil
	}
	// The host delivers the replayed packets after Stop returns, to every subscriber of the
	// data source, this module included: onEvent lets the g.replay of them through as they
	// are, and formats and passes on any record that arrives after them.
	g.stopped = true
	if n := g.rec.Dropped(); n > 0 {
		wasmapi.Log(wasmapi.LevelInfo, fmt.Sprintf("traceloop: %d older records were not kept (--max-records per container)", n))
	}
	for _, s := range g.rec.Drain() {
		p, err := g.ds.NewPacketSingle()
		if err != nil {
			return err
		}
		d := wasmapi.Data(p)
		for i, f := range g.fields {
			switch f.kind {
			case wasmapi.KindString:
				err = f.f.SetString(d, s.str[i])
			case wasmapi.KindBytes:
				err = f.f.SetBytes(d, []byte(s.str[i]))
			case wasmapi.KindInt64:
				err = f.f.SetInt64(d, int64(s.u64[i]))
			case wasmapi.KindUint32:
				err = f.f.SetUint32(d, uint32(s.u64[i]))
			default:
				err = f.f.SetUint64(d, s.u64[i])
			}
			if err != nil {
				g.ds.Release(p)
				return fmt.Errorf("replaying the recorded field %s: %w", f.name, err)
			}
		}
		if err := g.ds.EmitAndRelease(p); err != nil {
			return err
		}
		g.replay++
	}
	return nil
}

// syscall returns what is known of syscall number nr, asking the host the first time.
func (g *gadget) syscall(nr uint64) *syscallInfo {
	var s *syscallInfo
	if nr < uint64(len(g.syscalls)) {
		s = &g.syscalls[nr]
	} else {
		s = &syscallInfo{} // not a number the kernel has: looked up each time
	}
	if s.resolved {
		return s
	}
	name, err := wasmapi.GetSyscallName(int(nr))
	if err != nil {
		name = "syscall_" + strconv.FormatUint(nr, 10)
	}
	*s = syscallInfo{resolved: true, name: name, nargs: -1}
	if d, err := wasmapi.GetSyscallDeclaration(name); err == nil {
		s.nargs = len(d.Params)
	}
	s.entry, s.known = decode.Table[name]
	s.reads = decode.Shown(s.entry, s.known, s.nargs)
	return s
}

// allSyscallNames asks the host for every syscall name of this architecture (for suggestions).
func allSyscallNames() []string {
	var names []string
	for nr := 0; nr < maxSyscallNr; nr++ {
		if n, err := wasmapi.GetSyscallName(nr); err == nil && n != "" {
			names = append(names, n)
		}
	}
	return names
}

func init() { wasmapi.Register(&gadget{}) }

func main() {}
