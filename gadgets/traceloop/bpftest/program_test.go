package bpftest_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// childEnv makes the test binary act as the traced program (see TestMain).
const childEnv = "TRACELOOP_TEST_CHILD"

// record mirrors struct syscall_record of program.bpf.c; TestRecordLayout checks it against BTF.
type record struct {
	Timestamp  uint64
	Comm       [16]byte
	Pid        uint32
	Tid        uint32
	MntnsID    uint64
	UID        uint32
	GID        uint32
	ParentComm [16]byte
	ParentPid  uint32
	ParentTid  uint32
	Syscall    uint64
	Args       [6]uint64
	Ret        int64
	Errno      uint32
	Pad        uint32
	Duration   uint64
	Str0       [256]byte
	Str1       [256]byte
	Sockaddr   [112]byte
}

// decode mirrors struct syscall_decode.
type decode struct {
	Str0Arg, Str1Arg, SockaddrArg, Flags uint8
}

const (
	decodeNoReturn   = 1
	decodeStrAtEnter = 2
)

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// TestMain runs the traced program when the test binary is re-executed as a child.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child prints its thread id, waits for one byte on stdin (the tracer is attached by then), then
// makes a known sequence of syscalls on that same thread, with raw syscalls so that the Go
// runtime adds none of its own.
func child(mode string) int {
	runtime.LockOSThread()
	dir := os.Getenv(childEnv + "_DIR")
	fmt.Printf("%d\n", syscall.Gettid())
	var b [1]byte
	if _, err := syscall.Read(0, b[:]); err != nil {
		return 2
	}
	path := filepath.Join(dir, "traceloop-data")
	switch mode {
	case "known":
		fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			return 3
		}
		if _, err := syscall.Write(fd, []byte("hello traceloop")); err != nil {
			return 4
		}
		syscall.Close(fd)
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return 5
		}
		buf := make([]byte, 64)
		syscall.Read(fd, buf)
		syscall.Close(fd)
		if _, err := syscall.Open(filepath.Join(dir, "does-not-exist"), syscall.O_RDONLY, 0); !errors.Is(err, syscall.ENOENT) {
			return 6
		}
	case "decode":
		sock, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return 7
		}
		// Port 1 on loopback: nothing listens, the kernel refuses at once.
		if err := syscall.Connect(sock, &syscall.SockaddrInet4{Port: 1, Addr: [4]byte{127, 0, 0, 1}}); err == nil {
			return 8
		}
		syscall.Close(sock)
		if err := syscall.Rename(filepath.Join(dir, "old"), filepath.Join(dir, "new")); err == nil {
			return 9
		}
		if err := syscall.Exec("/nonexistent/traceloop-prog", []string{"x"}, nil); err == nil {
			return 10
		}
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, nil)
		if err != nil {
			return 11
		}
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	case "getpid":
		for i := 0; i < 3; i++ {
			syscall.Getpid()
		}
	}
	return 0
}

// requireKernel skips (or fails under CI=true) when the test cannot load BPF programs here.
func requireKernel(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the test reads syscall numbers from the x86-64 headers; GOARCH is %s", runtime.GOARCH)
	}
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	gadgettest.RequireTool(t, "llvm-strip-19")
	if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("kernel lacks raw tracepoint programs: %v", err)
		}
		t.Fatalf("probing raw tracepoint support: %v", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatalf("raising RLIMIT_MEMLOCK: %v", err)
	}
}

// variant is one way to build program.bpf.c.
type variant struct {
	name   string
	cflags []string
}

// variants: the default object (sys_exit as tp_btf) and the one for kernels without
// BTF-enabled tracepoints (sys_exit as a plain raw tracepoint).
var variants = []variant{{"tp_btf-exit", nil}, {"raw-exit", []string{"-DTRACELOOP_RAW_EXIT"}}}

// forEachVariant runs fn as a subtest per variant, with the variant's object built.
func forEachVariant(t *testing.T, fn func(t *testing.T, spec *ebpf.CollectionSpec)) {
	requireKernel(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if v.cflags == nil {
				if _, err := btf.LoadKernelSpec(); err != nil {
					t.Skipf("kernel without BTF, tp_btf programs cannot attach: %v", err)
				}
			}
			fn(t, buildObject(t, v.cflags...))
		})
	}
}

// buildObject compiles program.bpf.c the way the gadget build does and returns its spec.
func buildObject(t *testing.T, cflags ...string) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(gadgettest.CompileFile(t, "../program.bpf.c", cflags...)))
	if err != nil {
		t.Fatalf("reading the traceloop object: %v", err)
	}
	return spec
}

// syscallNumbers reads __NR_<name> for the given names from the x86-64 kernel headers.
func syscallNumbers(t *testing.T, names ...string) map[string]uint32 {
	t.Helper()
	const header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
	data, err := os.ReadFile(header)
	if err != nil {
		t.Fatalf("reading syscall numbers: %v (install linux-libc-dev)", err)
	}
	all := map[string]uint32{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "#define" && strings.HasPrefix(f[1], "__NR_") {
			if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				all[strings.TrimPrefix(f[1], "__NR_")] = uint32(n)
			}
		}
	}
	out := map[string]uint32{}
	for _, n := range names {
		nr, ok := all[n]
		if !ok {
			t.Fatalf("%s has no __NR_%s", header, n)
		}
		out[n] = nr
	}
	return out
}

// tracer is a loaded, configured and attached traceloop.
type tracer struct {
	coll   *ebpf.Collection
	links  []link.Link
	reader *ringbuf.Reader
}

// start loads the object, fills the filter and decode maps (before attaching, as the runtime
// runs gadgetStart before attach) and attaches both programs.
func start(t *testing.T, spec *ebpf.CollectionSpec, filter []uint32, dec map[uint32]decode) *tracer {
	t.Helper()
	if err := spec.Variables["filter_syscalls"].Set(filter != nil); err != nil {
		t.Fatalf("setting filter_syscalls: %v", err)
	}
	// Submit without waking the reader, as the runtime loads it (runtime/ringwake.go): drain
	// waits for a quiet ring, which woken reads of every syscall of the machine never give.
	if err := spec.Variables["gadgetry_rb_submit_flags"].Set(uint64(1)); err != nil { // BPF_RB_NO_WAKEUP
		t.Fatalf("setting gadgetry_rb_submit_flags: %v", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading traceloop: %v", err)
	}
	tr := &tracer{coll: coll}
	t.Cleanup(tr.close)
	for _, nr := range filter {
		if err := coll.Maps["syscall_filter"].Put(nr, uint8(1)); err != nil {
			t.Fatalf("filling syscall_filter[%d]: %v", nr, err)
		}
	}
	for nr, d := range dec {
		if err := coll.Maps["syscall_decode"].Put(nr, d); err != nil {
			t.Fatalf("filling syscall_decode[%d]: %v", nr, err)
		}
	}
	if tr.reader, err = ringbuf.NewReader(coll.Maps["events"]); err != nil {
		t.Fatalf("opening the events ring buffer: %v", err)
	}
	for _, name := range []string{"traceloop_sys_enter", "traceloop_sys_exit"} {
		p := spec.Programs[name]
		var l link.Link
		var err error
		if tp, ok := strings.CutPrefix(p.SectionName, "raw_tracepoint/"); ok {
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: coll.Programs[name]})
		} else {
			l, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[name]})
		}
		if err != nil {
			t.Fatalf("attaching %s (%s): %v", name, p.SectionName, err)
		}
		tr.links = append(tr.links, l)
	}
	return tr
}

func (tr *tracer) close() {
	for _, l := range tr.links {
		l.Close()
	}
	tr.links = nil
	if tr.reader != nil {
		tr.reader.Close()
		tr.reader = nil
	}
	tr.coll.Close()
}

// drain returns every record currently in the ring buffer. Records are submitted without
// wake-ups, so it reads with a short deadline until the ring is empty.
func (tr *tracer) drain(t *testing.T) []record {
	t.Helper()
	var out []record
	for {
		tr.reader.SetDeadline(time.Now().Add(20 * time.Millisecond))
		raw, err := tr.reader.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("reading the events ring buffer: %v", err)
		}
		var r record
		if err := binary.Read(bytes.NewReader(raw.RawSample), binary.LittleEndian, &r); err != nil {
			t.Fatalf("decoding a %d-byte record: %v", len(raw.RawSample), err)
		}
		out = append(out, r)
	}
}

// runChild starts the test binary as the traced program, waits until it is ready and returns
// its main thread id and a function that lets it run and waits for it to exit.
func runChild(t *testing.T, mode string) (tid uint32, run func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childEnv+"_DIR="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the traced child: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the child's thread id: %v", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(line), 10, 32)
	if err != nil {
		t.Fatalf("child printed %q, not a thread id", line)
	}
	return uint32(n), func() {
		stdin.Write([]byte{1})
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("traced child failed: %v", err)
		}
	}
}

// TestRecordLayout checks that the Go mirror of struct syscall_record matches the object's BTF,
// field by field, so the other tests decode what the kernel writes.
func TestRecordLayout(t *testing.T) {
	if _, err := exec.LookPath("clang-19"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("clang-19 not found")
		}
		t.Skip("clang-19 not found")
	}
	spec := buildObject(t)
	var st *btf.Struct
	if err := spec.Types.TypeByName("syscall_record", &st); err != nil {
		t.Fatalf("struct syscall_record not in BTF: %v", err)
	}
	if got, want := binary.Size(record{}), int(st.Size); got != want {
		t.Fatalf("Go record is %d bytes, struct syscall_record is %d", got, want)
	}
	want := map[string]uint32{"syscall_raw": 72, "ret": 128, "error_raw": 136, "str0": 152, "str1": 408, "sockaddr": 664}
	for _, m := range st.Members {
		if off, ok := want[m.Name]; ok && m.Offset.Bytes() != off {
			t.Errorf("field %s at offset %d in BTF, the Go mirror expects %d", m.Name, m.Offset.Bytes(), off)
		}
	}
	var marker *btf.Var
	if err := spec.Types.TypeByName("gadget_tracer_traceloop___events___syscall_record", &marker); err != nil {
		t.Errorf("tracer marker missing from BTF: %v", err)
	}
}

// TestFilteredKnownSyscalls is the acceptance test of the kernel side: with the filter
// openat,write a child doing openat, write, close, openat, read, close and a failing openat
// shows exactly its three openat and its write, with paths, byte counts and ENOENT.
func TestFilteredKnownSyscalls(t *testing.T) {
	forEachVariant(t, func(t *testing.T, spec *ebpf.CollectionSpec) {
		nrs := syscallNumbers(t, "openat", "write", "exit_group")
		tid, run := runChild(t, "known")
		tr := start(t, spec, []uint32{nrs["openat"], nrs["write"]}, map[uint32]decode{
			nrs["openat"]:     {Str0Arg: 2},
			nrs["exit_group"]: {Flags: decodeNoReturn},
		})
		run()
		var mine []record
		for _, r := range tr.drain(t) {
			if r.Tid == tid {
				mine = append(mine, r)
			}
		}
		name := map[uint64]string{uint64(nrs["openat"]): "openat", uint64(nrs["write"]): "write"}
		var got []string
		for _, r := range mine {
			n, ok := name[r.Syscall]
			if !ok {
				n = fmt.Sprintf("syscall#%d", r.Syscall)
			}
			got = append(got, fmt.Sprintf("%s(%q, %d) = %d errno %d", n, cstr(r.Str0[:]), r.Args[2], r.Ret, r.Errno))
		}
		if len(mine) != 4 {
			t.Fatalf("want 4 records (openat, write, openat, openat) from thread %d, got %d:\n%s", tid, len(mine), strings.Join(got, "\n"))
		}
		check := func(i int, sc string, pathSuffix string, wantRet int64, wantErrno uint32) {
			r := mine[i]
			if name[r.Syscall] != sc || !strings.HasSuffix(cstr(r.Str0[:]), pathSuffix) ||
				(wantRet != -2 && r.Ret != wantRet) || r.Errno != wantErrno {
				t.Errorf("record %d: got %s, want %s on ...%s returning %d with errno %d", i, got[i], sc, pathSuffix, wantRet, wantErrno)
			}
		}
		// -2 as wantRet: any non-negative fd.
		check(0, "openat", "/traceloop-data", -2, 0)
		check(1, "write", "", 15, 0)
		check(2, "openat", "/traceloop-data", -2, 0)
		check(3, "openat", "/does-not-exist", -int64(syscall.ENOENT), uint32(syscall.ENOENT))
		if mine[1].Args[2] != 15 {
			t.Errorf("write count argument: got %d, want 15", mine[1].Args[2])
		}
		if int64(mine[1].Args[0]) != mine[0].Ret {
			t.Errorf("write went to fd %d, openat returned %d", mine[1].Args[0], mine[0].Ret)
		}
		for i, r := range mine {
			if r.Pid == 0 || cstr(r.Comm[:]) == "" || r.Timestamp == 0 {
				t.Errorf("record %d lacks process data or timestamp: %+v", i, r)
			}
			if i > 0 && r.Timestamp < mine[i-1].Timestamp {
				t.Errorf("record %d entered before record %d", i, i-1)
			}
		}
	})
}

// TestFilterAppliesFromFirstRecord proves that the filter is in place before the programs
// attach: every record in the buffer, from the very first one and from every process on the
// machine, is one of the selected syscalls, although this test and everything else running keep
// making other syscalls.
func TestFilterAppliesFromFirstRecord(t *testing.T) {
	forEachVariant(t, func(t *testing.T, spec *ebpf.CollectionSpec) {
		nrs := syscallNumbers(t, "openat", "write")
		tr := start(t, spec, []uint32{nrs["write"]}, nil)
		// Right after attach: unselected syscalls from this thread, then one selected.
		syscall.Getpid()
		f, err := os.CreateTemp(t.TempDir(), "x")
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("marker"))
		f.Close()
		recs := tr.drain(t)
		if len(recs) == 0 {
			t.Fatal("no record at all: the write of this test was not recorded")
		}
		sawMine := false
		for i, r := range recs {
			if r.Syscall != uint64(nrs["write"]) {
				t.Fatalf("record %d of %d is syscall %d from %s (pid %d): only write (%d) was selected",
					i, len(recs), r.Syscall, cstr(r.Comm[:]), r.Pid, nrs["write"])
			}
			if int(r.Pid) == os.Getpid() && r.Ret == 6 {
				sawMine = true
			}
		}
		if !sawMine {
			t.Error("the marker write of this test is missing")
		}
	})
}

// TestNoFilterRecordsEverything checks the unfiltered mode: the child's getpid calls (never
// selected in the other tests) are recorded, with their return value.
func TestNoFilterRecordsEverything(t *testing.T) {
	forEachVariant(t, func(t *testing.T, spec *ebpf.CollectionSpec) {
		nrs := syscallNumbers(t, "getpid")
		tid, run := runChild(t, "getpid")
		tr := start(t, spec, nil, nil)
		run()
		n := 0
		for _, r := range tr.drain(t) {
			if r.Tid == tid && r.Syscall == uint64(nrs["getpid"]) {
				n++
				if r.Ret != int64(r.Pid) {
					t.Errorf("getpid returned %d in the record, the process is %d", r.Ret, r.Pid)
				}
			}
		}
		if n != 3 {
			t.Errorf("want 3 getpid records from thread %d, got %d", tid, n)
		}
	})
}

// TestDecodedArguments checks strings read on exit (both of renameat), on entry (execve, also
// when it succeeds and the caller's memory is gone) and socket addresses (connect).
func TestDecodedArguments(t *testing.T) {
	forEachVariant(t, func(t *testing.T, spec *ebpf.CollectionSpec) {
		nrs := syscallNumbers(t, "connect", "renameat", "execve")
		tid, run := runChild(t, "decode")
		tr := start(t, spec, []uint32{nrs["connect"], nrs["renameat"], nrs["execve"]}, map[uint32]decode{
			nrs["connect"]:  {SockaddrArg: 2},
			nrs["renameat"]: {Str0Arg: 2, Str1Arg: 4},
			nrs["execve"]:   {Str0Arg: 1, Flags: decodeStrAtEnter},
		})
		run()
		var connect, rename, failedExec, exec []record
		for _, r := range tr.drain(t) {
			switch {
			case r.Tid == tid && r.Syscall == uint64(nrs["connect"]):
				connect = append(connect, r)
			case r.Tid == tid && r.Syscall == uint64(nrs["renameat"]):
				rename = append(rename, r)
			case r.Tid == tid && r.Syscall == uint64(nrs["execve"]):
				failedExec = append(failedExec, r)
			case r.Syscall == uint64(nrs["execve"]) && r.ParentTid == tid:
				exec = append(exec, r)
			}
		}
		if len(connect) != 1 || len(rename) != 1 || len(failedExec) != 1 || len(exec) != 1 {
			t.Fatalf("want one connect, renameat, failed execve and execve of the child, got %d, %d, %d, %d",
				len(connect), len(rename), len(failedExec), len(exec))
		}
		sa := connect[0].Sockaddr
		if fam := binary.LittleEndian.Uint16(sa[0:]); fam != syscall.AF_INET {
			t.Errorf("connect sockaddr family %d, want AF_INET", fam)
		}
		if port := binary.BigEndian.Uint16(sa[2:]); port != 1 || !bytes.Equal(sa[4:8], []byte{127, 0, 0, 1}) {
			t.Errorf("connect sockaddr is %d.%d.%d.%d:%d, want 127.0.0.1:1", sa[4], sa[5], sa[6], sa[7], port)
		}
		if connect[0].Errno != uint32(syscall.ECONNREFUSED) {
			t.Errorf("connect errno %d, want ECONNREFUSED", connect[0].Errno)
		}
		if a, b := cstr(rename[0].Str0[:]), cstr(rename[0].Str1[:]); !strings.HasSuffix(a, "/old") || !strings.HasSuffix(b, "/new") || rename[0].Errno != uint32(syscall.ENOENT) {
			t.Errorf("renameat(%q, %q) errno %d, want .../old, .../new, ENOENT", a, b, rename[0].Errno)
		}
		if p := cstr(failedExec[0].Str0[:]); p != "/nonexistent/traceloop-prog" || failedExec[0].Errno != uint32(syscall.ENOENT) {
			t.Errorf("failed execve(%q) errno %d", p, failedExec[0].Errno)
		}
		if p := cstr(exec[0].Str0[:]); p != "/bin/true" || exec[0].Ret != 0 || cstr(exec[0].Comm[:]) != "true" {
			t.Errorf("execve(%q) = %d by %q, want /bin/true = 0 by true", p, exec[0].Ret, cstr(exec[0].Comm[:]))
		}
	})
}
