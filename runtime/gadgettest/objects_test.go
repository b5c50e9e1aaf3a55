package gadgettest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// holdEnv makes this test binary a helper that loads a map and a program using it, attaches
// the program and keeps only the link: the program and the map are then held through the link
// alone. It prints "ready <prog id> <map id>" and holds them until its standard input closes.
const holdEnv = "GADGETTEST_HOLD_OBJECTS"

func TestMain(m *testing.M) {
	if name := os.Getenv(holdEnv); name != "" {
		os.Exit(holdObjects(name))
	}
	os.Exit(Main(m))
}

func holdObjects(prefix string) int {
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: prefix + "_m", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fail(err)
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: prefix + "_p", Type: ebpf.RawTracepoint, License: "GPL",
		Instructions: asm.Instructions{asm.LoadMapPtr(asm.R1, m.FD()), asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		return fail(err)
	}
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: p})
	if err != nil {
		return fail(err)
	}
	pi, _ := p.Info()
	mi, _ := m.Info()
	pid, _ := pi.ID()
	mid, _ := mi.ID()
	p.Close()
	m.Close()
	fmt.Println("ready", pid, mid)
	io.Copy(io.Discard, os.Stdin)
	l.Close()
	return 0
}

// helper is a running holdObjects process.
type helper struct {
	stdin      *os.File
	out        *bufio.Reader
	prog, mapp string // "prog:<id>:<name>", "map:<id>:<name>"
}

// startHelper starts holdObjects with names prefix+tag: as a child of this process, or
// (detached) as a child of a shell that exits at once, so that it belongs to another process
// tree, as another test package's binary does.
func startHelper(t *testing.T, prefix, tag string, detached bool) *helper {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if detached {
		// A shell runs the helper in the background and exits: the helper is reparented.
		cmd = exec.Command("/bin/sh", "-c", `"$0" -test.run='^$' <&3 >&4 &`, os.Args[0])
		cmd.ExtraFiles = []*os.File{inR, outW}
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Stdin, cmd.Stdout = inR, outW
	}
	cmd.Env = append(os.Environ(), holdEnv+"="+prefix+tag)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	h := &helper{stdin: inW, out: bufio.NewReader(outR)}
	t.Cleanup(func() { h.stop(t) })
	if detached {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the shell starting the helper: %v", err)
		}
	} else {
		t.Cleanup(func() { cmd.Wait() })
	}
	line, err := h.out.ReadString('\n')
	var pid, mid int
	if _, serr := fmt.Sscanf(line, "ready %d %d", &pid, &mid); err != nil || serr != nil {
		t.Fatalf("the helper did not get ready: %q, %v", line, err)
	}
	h.prog = fmt.Sprintf("prog:%d:%s%s_p", pid, prefix, tag)
	h.mapp = fmt.Sprintf("map:%d:%s%s_m", mid, prefix, tag)
	return h
}

// stop closes the helper's standard input and waits until it has exited (its output closes).
func (h *helper) stop(t *testing.T) {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	io.Copy(io.Discard, h.out)
}

func testPrefix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "gk" + hex.EncodeToString(b[:])
}

// TestObjectsOfThisProcess: the leak check counts what this process and its children hold and
// what nothing holds, never what another process tree holds (another test package's binary
// running at the same time with the same names).
func TestObjectsOfThisProcess(t *testing.T) {
	RequireRoot(t)
	prefix := testPrefix()

	t.Run("another process's objects", func(t *testing.T) {
		h := startHelper(t, prefix, "f", true)
		all := listObjects(prefix)
		if all.progs[progID(t, h.prog)] == "" || len(all.maps) == 0 {
			t.Fatalf("the helper's objects are not in the kernel: %v %v", all.progs, all.maps)
		}
		if got := Objects(t, prefix); len(got) != 0 {
			t.Errorf("Objects counts another process tree's objects (held through a link only): %v", got)
		}
		if leaked := waitClean(prefix, nil, 1, 0); leaked != nil {
			t.Errorf("the leak check reports another process tree's objects: %v", leaked)
		}
	})

	t.Run("a child's objects", func(t *testing.T) {
		h := startHelper(t, prefix, "c", false)
		got := Objects(t, prefix)
		if !got[h.prog] || !got[h.mapp] {
			t.Errorf("Objects = %v, want the child's %s and %s (held through a link only)", got, h.prog, h.mapp)
		}
		leaked := waitClean(prefix, nil, 2, 10*time.Millisecond)
		if !slices.Contains(leaked, h.prog) || !slices.Contains(leaked, h.mapp) {
			t.Errorf("the leak check reports %v while the child holds %s and %s", leaked, h.prog, h.mapp)
		}
		h.stop(t)
		if leaked := waitClean(prefix, nil, 100, 100*time.Millisecond); leaked != nil {
			t.Errorf("after the child exited: %v", leaked)
		}
	})

	t.Run("this process's objects", func(t *testing.T) {
		before := Objects(t, prefix)
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: prefix + "_own", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		if leaked := waitClean(prefix, before, 2, 10*time.Millisecond); len(leaked) != 1 || !strings.HasSuffix(leaked[0], ":"+prefix+"_own") {
			t.Errorf("an open map of this process: the leak check reports %v", leaked)
		}
		m.Close()
		CheckClean(t, prefix, before)
	})

	t.Run("objects nothing holds", func(t *testing.T) {
		var st unix.Statfs_t
		if err := unix.Statfs("/sys/fs/bpf", &st); err != nil || st.Type != unix.BPF_FS_MAGIC {
			if os.Getenv("CI") == "true" {
				t.Fatal("no bpffs at /sys/fs/bpf (scripts/setup.sh mounts it)")
			}
			t.Skip("no bpffs at /sys/fs/bpf to pin a map")
		}
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: prefix + "_pin", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		pin := filepath.Join("/sys/fs/bpf", prefix+"_pin")
		if err := m.Pin(pin); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(pin)
		m.Close()
		if leaked := waitClean(prefix, nil, 2, 10*time.Millisecond); len(leaked) != 1 {
			t.Errorf("a pinned map nothing holds: the leak check reports %v", leaked)
		}
		os.Remove(pin)
		CheckClean(t, prefix, nil)
	})
}

func progID(t *testing.T, obj string) ebpf.ProgramID {
	t.Helper()
	var id ebpf.ProgramID
	if _, err := fmt.Sscanf(obj, "prog:%d:", &id); err != nil {
		t.Fatalf("%q: %v", obj, err)
	}
	return id
}
