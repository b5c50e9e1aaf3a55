package e2etest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// childEnv makes the test binary act as the traced program (see TestMain).
const childEnv = "TRACELOOP_E2E_CHILD"

// imageName is the tag the test gives the image in its own store.
const imageName = "traceloop-e2e"

// TestMain runs the traced program when the test binary is re-executed as a child.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child(os.Getenv(childEnv + "_DIR")))
	}
	os.Exit(gadgettest.Main(m))
}

// child prints "pid tid", waits for one byte on stdin (the tracer is attached by then), then
// makes known syscalls on that thread with raw syscalls, so the Go runtime adds none:
// openat (create), write (15 bytes), close, openat (read), read, close, openat (ENOENT).
func child(dir string) int {
	runtime.LockOSThread()
	fmt.Printf("%d %d\n", os.Getpid(), syscall.Gettid())
	var b [1]byte
	if _, err := syscall.Read(0, b[:]); err != nil {
		return 2
	}
	path := filepath.Join(dir, "traceloop-data")
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
	if _, err := syscall.Open(filepath.Join(dir, "does-not-exist"), syscall.O_RDONLY|syscall.O_CLOEXEC, 0); !errors.Is(err, syscall.ENOENT) {
		return 6
	}
	return 0
}

// built is the store holding the traceloop image, built once.
var built struct {
	once  sync.Once
	store string
}

// setup builds the gadgetry binary from this repository and the traceloop image with it.
func setup(t *testing.T) (bin, store string) {
	t.Helper()
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("traceloop is built for amd64 and arm64; GOARCH is %s", runtime.GOARCH)
	}
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin = gadgettest.CLI(t)
	built.once.Do(func() {
		// Every test of the package runs the image: build it once, into the shared directory.
		dir := filepath.Join(gadgettest.SharedDir(t), "store")
		gadgettest.BuildImage(t, bin, dir, filepath.Join(gadgettest.RepoRoot(), "gadgets", "traceloop"), imageName)
		built.store = dir // only once the image is in it
	})
	if built.store == "" {
		t.Fatal("the traceloop image could not be built (see the first failing test)")
	}
	return bin, built.store
}

// run is one `gadgetry run` of the traceloop image.
type run struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line
	stderr *gadgettest.SyncBuffer
	done   chan error
}

// startRun starts `gadgetry run traceloop-e2e args...` and waits until both programs are
// attached (the run's process holds two BPF links), or until it exits.
func startRun(t *testing.T, args ...string) *run {
	t.Helper()
	bin, store := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"--store", store, "run", imageName, "--pull", "never"}, args...)...)
	r := &run{t: t, cmd: cmd, lines: make(chan string, 1<<16), stderr: &gadgettest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.done <- cmd.Wait()
	}()
	// A run that already ended makes Kill a no-op; the reader goroutine owns Wait.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return r
}

// waitAttached polls /proc/<run>/fdinfo until the run holds two BPF links (sys_enter and
// sys_exit attached). It fails the test if the run exits first.
func (r *run) waitAttached() {
	r.t.Helper()
	pid := r.cmd.Process.Pid
	for {
		if n := bpfLinks(pid); n >= 2 {
			return
		}
		select {
		case err := <-r.done:
			r.done <- err
			r.t.Fatalf("gadgetry run exited before attaching: %v\nstderr:\n%s", err, r.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// bpfLinks counts the BPF link file descriptors process pid holds.
func bpfLinks(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && bytes.Contains(b, []byte("\nlink_type:")) {
			n++
		}
	}
	return n
}

// stop interrupts the run (as Ctrl-C does), waits for it, and returns the rest of its stdout.
func (r *run) stop() []string {
	r.t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		r.t.Fatal(err)
	}
	var rest []string
	for l := range r.lines {
		rest = append(rest, l)
	}
	// A run SIGINT stopped exits with status 130 (docs/cli.md, "Exit codes").
	var exit *exec.ExitError
	if err := <-r.done; err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 130) {
		r.t.Fatalf("gadgetry run: %v\nstderr:\n%s", err, r.stderr)
	}
	return rest
}

// record is one line of `-o json` output.
type record struct {
	Proc struct {
		Comm string `json:"comm"`
		Pid  uint32 `json:"pid"`
		Tid  uint32 `json:"tid"`
	} `json:"proc"`
	Syscall string `json:"syscall"`
	Args    string `json:"args"`
	Arg2    uint64 `json:"arg2"`
	Ret     int64  `json:"ret"`
	Error   string `json:"error"`
	Str0    string `json:"str0"`
	Summary any    `json:"summary"`
}

func parse(t *testing.T, line string) (record, bool) {
	t.Helper()
	var rec record
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("output line is not JSON: %v: %q", err, line)
	}
	return rec, rec.Summary == nil
}

// tracedChild is a started child process, blocked until release.
type tracedChild struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	pid, tid uint32
	dir      string
}

func startChild(t *testing.T) *tracedChild {
	t.Helper()
	c := &tracedChild{dir: t.TempDir()}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"=1", childEnv+"_DIR="+c.dir)
	c.cmd.Stderr = os.Stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's ids: %v", err)
	}
	if _, err := fmt.Sscanf(line, "%d %d", &c.pid, &c.tid); err != nil {
		t.Fatalf("child's ids %q: %v", line, err)
	}
	return c
}

// release lets the child make its syscalls and waits for it.
func (c *tracedChild) release(t *testing.T) {
	t.Helper()
	if _, err := c.stdin.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}

// want is one expected record of the child.
type want struct {
	syscall, str0, errname string
	arg2                   uint64 // write's byte count (0: not checked)
	ret                    int64  // exact when errname or arg2 is set; else >= 0
}

// checkKnown checks the child's records are exactly its three openat calls and its write.
func checkKnown(t *testing.T, c *tracedChild, recs []record) {
	t.Helper()
	path := filepath.Join(c.dir, "traceloop-data")
	wants := []want{
		{syscall: "SYS_OPENAT", str0: path},
		{syscall: "SYS_WRITE", arg2: 15, ret: 15},
		{syscall: "SYS_OPENAT", str0: path},
		{syscall: "SYS_OPENAT", str0: filepath.Join(c.dir, "does-not-exist"), errname: "ENOENT", ret: -2},
	}
	var got []record
	for _, r := range recs {
		if r.Proc.Pid == c.pid && r.Proc.Tid == c.tid {
			got = append(got, r)
		}
	}
	if len(got) != len(wants) {
		t.Fatalf("want %d records of the child (tid %d), got %d: %+v", len(wants), c.tid, len(got), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Syscall != w.syscall || g.Str0 != w.str0 || g.Error != w.errname {
			t.Errorf("record %d: got %s(%s) str0=%q error=%q, want %s str0=%q error=%q",
				i, g.Syscall, g.Args, g.Str0, g.Error, w.syscall, w.str0, w.errname)
		}
		if w.arg2 != 0 && (g.Arg2 != w.arg2 || !strings.HasSuffix(g.Args, ", "+strconv.FormatUint(w.arg2, 10)) || strings.Count(g.Args, ",") != 2) {
			t.Errorf("record %d: %s(%s) count %d, want %d (as the third and last of the args)", i, g.Syscall, g.Args, g.Arg2, w.arg2)
		}
		switch {
		case w.errname != "" || w.arg2 != 0:
			if g.Ret != w.ret {
				t.Errorf("record %d: %s returned %d, want %d", i, g.Syscall, g.Ret, w.ret)
			}
		case g.Ret < 0:
			t.Errorf("record %d: %s failed (%d %s)", i, g.Syscall, g.Ret, g.Error)
		}
		if w.str0 != "" && !strings.Contains(g.Args, strconv.Quote(w.str0)) {
			t.Errorf("record %d: args %q do not show the path %q", i, g.Args, w.str0)
		}
	}
	for _, r := range recs {
		if r.Proc.Pid == c.pid && r.Syscall != "SYS_OPENAT" && r.Syscall != "SYS_WRITE" {
			t.Errorf("unfiltered syscall of the child recorded: %+v", r)
		}
	}
}

// TestKnownSyscallsRecorded is issue 6's acceptance: with --syscall-filters=openat,write, the
// default flight-recorder mode prints nothing while running, then, at Ctrl-C, exactly the
// child's openat and write calls in time order, with paths, byte count and ENOENT.
func TestKnownSyscallsRecorded(t *testing.T) {
	c := startChild(t)
	r := startRun(t, "--syscall-filters=openat,write", "-o", "json", "--pid", strconv.Itoa(int(c.pid)))
	r.waitAttached()
	c.release(t)
	select {
	case l := <-r.lines:
		t.Fatalf("the flight recorder printed before the run ended: %q", l)
	default:
	}
	var recs []record
	for _, l := range r.stop() {
		if rec, ok := parse(t, l); ok {
			recs = append(recs, rec)
		}
	}
	checkKnown(t, c, recs)
}

// TestStreamPrintsLive: with --stream the child's records are printed while the run goes on
// (read before the run is interrupted).
func TestStreamPrintsLive(t *testing.T) {
	c := startChild(t)
	r := startRun(t, "--syscall-filters=openat,write", "--stream=true", "-o", "json", "--pid", strconv.Itoa(int(c.pid)))
	r.waitAttached()
	c.release(t)
	var recs []record
	for n := 0; n < 4; {
		l, ok := <-r.lines
		if !ok {
			t.Fatalf("the run ended before printing the child's records\nstderr:\n%s", r.stderr)
		}
		rec, ok := parse(t, l)
		if !ok {
			continue
		}
		recs = append(recs, rec)
		if rec.Proc.Tid == c.tid {
			n++
		}
	}
	for _, l := range r.stop() {
		if rec, ok := parse(t, l); ok {
			recs = append(recs, rec)
		}
	}
	checkKnown(t, c, recs)
}

// TestFilterFromFirstRecord: the filter is in the kernel before the programs attach, so every
// record printed, from the very first, of every process on the machine, is an openat or a
// write. The test's own openat of a marker file (repeated until it shows, in case the ring
// buffer overflows under other load) proves records do flow.
func TestFilterFromFirstRecord(t *testing.T) {
	r := startRun(t, "--syscall-filters=openat,write", "--stream=true", "-o", "json")
	r.waitAttached()
	marker := filepath.Join(t.TempDir(), "traceloop-marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var recs []record
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	seen := false
	for !seen {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("the run ended before the marker showed\nstderr:\n%s", r.stderr)
			}
			if rec, ok := parse(t, l); ok {
				recs = append(recs, rec)
				seen = rec.Syscall == "SYS_OPENAT" && rec.Str0 == marker
			}
		case <-tick.C:
			os.ReadFile(marker)
		}
	}
	for _, l := range r.stop() {
		if rec, ok := parse(t, l); ok {
			recs = append(recs, rec)
		}
	}
	for i, rec := range recs {
		if rec.Syscall != "SYS_OPENAT" && rec.Syscall != "SYS_WRITE" {
			t.Fatalf("record %d of %d is %s by %s (pid %d): not selected by the filter", i, len(recs), rec.Syscall, rec.Proc.Comm, rec.Proc.Pid)
		}
	}
}

// TestUnknownSyscallFailsBeforeAttach: a misspelt name fails the run with a suggestion and
// leaves no traceloop program or map in the kernel.
func TestUnknownSyscallFailsBeforeAttach(t *testing.T) {
	bin, store := setup(t)
	before := objects()
	cmd := exec.Command(bin, "--store", store, "run", imageName, "--pull", "never", "--syscall-filters=openat,wirte", "--timeout", "30")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		t.Fatalf("run with an unknown syscall succeeded; stdout:\n%s", out)
	}
	msg := stderr.String()
	for _, s := range []string{`"wirte"`, "did you mean write"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error does not say %q:\n%s", s, msg)
		}
	}
	if len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("a failed run printed records:\n%s", out)
	}
	// The run has exited: anything of it still in the kernel would be pinned or leaked. What
	// another process's run held until just now goes once the kernel frees it (a map after its
	// program's RCU grace period): the check waits for that, a minute at most.
	var left []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		left = left[:0]
		for o := range objects() {
			if !before[o] {
				left = append(left, o)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("the failed run left %s in the kernel", strings.Join(left, ", "))
	}
}

// traceloopMaps are the names of the gadget's own maps (not shared with other gadgets).
var traceloopMaps = map[string]bool{"syscall_filter": true, "syscall_decode": true, "pending": true, "pending_str": true, "str_scratch": true}

// objects lists the traceloop programs and maps in the kernel that no running process holds: a
// concurrent test holding its own traceloop objects is not counted, a leaked (pinned) one is.
func objects() map[string]bool {
	held, heldMaps := heldObjects()
	out := map[string]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		p, err := ebpf.NewProgramFromID(next)
		if err != nil {
			continue
		}
		info, err := p.Info()
		p.Close()
		if err != nil || !strings.HasPrefix(info.Name, "traceloop_") {
			continue
		}
		if held[next] {
			if ids, ok := info.MapIDs(); ok {
				for _, m := range ids {
					heldMaps[m] = true
				}
			}
			continue
		}
		out[fmt.Sprintf("prog %d %s", next, info.Name)] = true
	}
	var mid ebpf.MapID
	for {
		next, err := ebpf.MapGetNextID(mid)
		if err != nil {
			break
		}
		mid = next
		m, err := ebpf.NewMapFromID(next)
		if err != nil {
			continue
		}
		info, err := m.Info()
		m.Close()
		if err == nil && traceloopMaps[info.Name] && !heldMaps[next] {
			out[fmt.Sprintf("map %d %s", next, info.Name)] = true
		}
	}
	return out
}

// heldObjects returns the IDs of the programs some live process holds a program or link fd
// of, and of the maps it holds a map fd of (a concurrent test loading a collection holds its
// maps before any program refers to them).
func heldObjects() (map[ebpf.ProgramID]bool, map[ebpf.MapID]bool) {
	progs, maps := map[ebpf.ProgramID]bool{}, map[ebpf.MapID]bool{}
	fdinfos, _ := filepath.Glob("/proc/[0-9]*/fdinfo/*")
	for _, f := range fdinfos {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte("_id:")) {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			switch {
			case err != nil:
			case k == "prog_id":
				progs[ebpf.ProgramID(n)] = true
			case k == "map_id":
				maps[ebpf.MapID(n)] = true
			}
		}
	}
	return progs, maps
}
