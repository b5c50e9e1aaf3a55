package gadgettest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// The leak check. Test packages share names (every runtime test program is gtest_*, every
// block_exec run loads block_exec_*), and `go test ./...` runs packages at the same time, all
// on one kernel: a check by name alone sees another package's objects come and go. So an
// object counts as this test process's unless a process that is neither this one nor one of
// its descendants (a gadgetry binary the test started, say) holds it: through a file
// descriptor for it, for a link to it (a program) or for a program using it (a map). An object
// nothing holds (pinned, or attached by the kernel's own reference, or being freed) counts as
// ours: that is what a leak by a process that has exited looks like.

// Objects lists the kernel's programs and maps whose names start with prefix and that are not
// held by another test process ("prog:<id>:<name>", "map:<id>:<name>"; see CheckClean).
func Objects(t testing.TB, prefix string) map[string]bool {
	t.Helper()
	return listObjects(prefix).ours()
}

// CheckClean fails the test when an object with prefix exists that was not in before (a set
// from Objects) and that this process, a process it started, or nothing holds. Objects another
// test process holds (a package running at the same time) are not this test's. The kernel frees
// a program's maps after an RCU grace period, so it waits up to 10s for them to go; an object
// is reported only if it stayed for the whole wait (one that another process's objects just
// left behind goes in the meantime).
func CheckClean(t testing.TB, prefix string, before map[string]bool) {
	t.Helper()
	if leaked := waitClean(prefix, before, 100, 100*time.Millisecond); len(leaked) > 0 {
		t.Errorf("the run left BPF objects in the kernel: %s", strings.Join(leaked, ", "))
	}
}

// waitClean lists, up to tries times, the objects with prefix not in before that are ours, and
// returns those found every time (nil as soon as none is left).
func waitClean(prefix string, before map[string]bool, tries int, pause time.Duration) []string {
	var leaked map[string]bool
	for i := 0; i < tries; i++ {
		now := map[string]bool{}
		for o := range listObjects(prefix).ours() {
			if !before[o] && (leaked == nil || leaked[o]) {
				now[o] = true
			}
		}
		leaked = now
		if len(leaked) == 0 {
			return nil
		}
		if i < tries-1 {
			time.Sleep(pause)
		}
	}
	out := make([]string, 0, len(leaked))
	for o := range leaked {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// objectSet is the kernel's programs and maps with a prefix, and which processes hold them.
type objectSet struct {
	progs map[ebpf.ProgramID]string
	maps  map[ebpf.MapID]string
	// progMaps are the maps every program (whatever its name) uses.
	progMaps map[ebpf.ProgramID][]ebpf.MapID
	// holders are the pids holding each object ("prog:<id>", "map:<id>").
	holders map[string][]int
	// ppid maps each process to its parent.
	ppid map[int]int
}

// listObjects walks the kernel's program and map ids, then, when any name matches prefix,
// every process's file descriptors.
func listObjects(prefix string) *objectSet {
	s := &objectSet{progs: map[ebpf.ProgramID]string{}, maps: map[ebpf.MapID]string{},
		progMaps: map[ebpf.ProgramID][]ebpf.MapID{}}
	var pid ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(pid)
		if err != nil {
			break
		}
		pid = next
		p, err := ebpf.NewProgramFromID(next)
		if err != nil {
			continue // gone meanwhile
		}
		if info, err := p.Info(); err == nil {
			if strings.HasPrefix(info.Name, prefix) {
				s.progs[next] = info.Name
			}
			if maps, ok := info.MapIDs(); ok && len(maps) > 0 {
				s.progMaps[next] = maps
			}
		}
		p.Close()
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
		if info, err := m.Info(); err == nil && strings.HasPrefix(info.Name, prefix) {
			s.maps[next] = info.Name
		}
		m.Close()
	}
	if len(s.progs)+len(s.maps) > 0 {
		// After the walk, which opened every object: this process's descriptors for them are
		// closed again (tests do not run in parallel).
		s.scanHolders()
	}
	return s
}

// scanHolders reads every process's BPF file descriptors (their fdinfo names the program,
// map or linked program) and parents.
func (s *objectSet) scanHolders() {
	s.holders = map[string][]int{}
	s.ppid = map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := readPPid(pid); ok {
			s.ppid[pid] = pp
		}
		dir := filepath.Join("/proc", e.Name())
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue // gone, or not ours to read: its objects count as held by nobody
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(target, "anon_inode:bpf") {
				continue
			}
			for _, key := range fdinfoObjects(filepath.Join(dir, "fdinfo", fd.Name())) {
				s.hold(key, pid)
			}
		}
	}
	// A process holding a program holds the maps it uses.
	for id, maps := range s.progMaps {
		for _, h := range s.holders[fmt.Sprintf("prog:%d", id)] {
			for _, m := range maps {
				s.hold(fmt.Sprintf("map:%d", m), h)
			}
		}
	}
}

func (s *objectSet) hold(key string, pid int) {
	if !slices.Contains(s.holders[key], pid) {
		s.holders[key] = append(s.holders[key], pid)
	}
}

// fdinfoObjects returns the objects a BPF file descriptor refers to: "prog:<id>" for a program
// or a link's program, "map:<id>" for a map.
func fdinfoObjects(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "prog_id":
			out = append(out, "prog:"+v)
		case "map_id":
			out = append(out, "map:"+v)
		}
	}
	return out
}

// readPPid reads the parent of pid from /proc/<pid>/stat (after the command name, which may
// hold spaces and parentheses).
func readPPid(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// mine reports whether pid is this process or one of its descendants.
func (s *objectSet) mine(pid int) bool {
	self := os.Getpid()
	for i := 0; pid > 0 && i < 64; i++ { // 64: a bound against a cycle read across pid reuse
		if pid == self {
			return true
		}
		pid = s.ppid[pid]
	}
	return false
}

// foreign reports whether the object key is held, and only by processes not ours.
func (s *objectSet) foreign(key string) bool {
	hs := s.holders[key]
	if len(hs) == 0 {
		return false
	}
	for _, h := range hs {
		if s.mine(h) {
			return false
		}
	}
	return true
}

// ours returns the objects that are not foreign, as Objects formats them.
func (s *objectSet) ours() map[string]bool {
	out := map[string]bool{}
	for id, name := range s.progs {
		if !s.foreign(fmt.Sprintf("prog:%d", id)) {
			out[fmt.Sprintf("prog:%d:%s", id, name)] = true
		}
	}
	for id, name := range s.maps {
		if !s.foreign(fmt.Sprintf("map:%d", id)) {
			out[fmt.Sprintf("map:%d:%s", id, name)] = true
		}
	}
	return out
}

// LinkedPrograms returns the ids of the programs attached by the BPF links this process holds
// (their fdinfo names the program): whether a run of this process has attached a program yet.
func LinkedPrograms(t testing.TB) map[ebpf.ProgramID]bool {
	t.Helper()
	out := map[ebpf.ProgramID]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || target != "anon_inode:bpf_link" {
			continue
		}
		for _, o := range fdinfoObjects(filepath.Join("/proc/self/fdinfo", fd.Name())) {
			if id, ok := strings.CutPrefix(o, "prog:"); ok {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					out[ebpf.ProgramID(n)] = true
				}
			}
		}
	}
	return out
}
