package containers

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
)

// events collects cache events for a test; wait blocks until one matches or fails the test (the
// one given: a subtest's).
type events struct {
	ch chan Event
}

func subscribe(t *testing.T, c *Cache) *events {
	e := &events{ch: make(chan Event, 256)}
	cancel := c.Subscribe(func(ev Event) { e.ch <- ev })
	t.Cleanup(cancel)
	return e
}

func (e *events) wait(t *testing.T, typ EventType, mntns uint64, what string) *Container {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a performance assertion
	for {
		select {
		case ev := <-e.ch:
			if ev.Type == typ && ev.Container.MntNS == mntns {
				return ev.Container
			}
		case <-timeout:
			t.Fatalf("no %s event for %s (mntns %d) in 30s (hang guard)", typ, what, mntns)
		}
	}
}

// waitKnown blocks until an event shows the container with id is known (added or updated).
func (e *events) waitKnown(t *testing.T, id, what string) {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a performance assertion
	for {
		select {
		case ev := <-e.ch:
			if ev.Container.ID == id && (ev.Type == EventAdd || ev.Type == EventUpdate) {
				return
			}
		case <-timeout:
			t.Fatalf("no event for %s (id %s) in 30s (hang guard)", what, id)
		}
	}
}

func newCache(t *testing.T, roots ...string) *Cache {
	t.Helper()
	c, err := New(context.Background(), Options{RuncRoots: roots, NoDefaultRoots: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func checkContainer(t *testing.T, got *Container, want *runc.Container, name string) {
	t.Helper()
	if got == nil {
		t.Fatalf("container %s (mntns %d) not found", name, want.MntNS)
	}
	if got.ID != want.ID || got.Name != name || got.Runtime != "runc" || got.Hostname != name ||
		got.Pid != want.Pid || got.MntNS != want.MntNS {
		t.Fatalf("container %s: got %+v, want id %s pid %d mntns %d", name, got, want.ID, want.Pid, want.MntNS)
	}
	if got.CgroupPath != want.CgroupPath {
		t.Fatalf("container %s: cgroup path %q, want %q", name, got.CgroupPath, want.CgroupPath)
	}
	if info, ok := ParseCgroupPath(got.CgroupPath); !ok || info.ID != want.ID {
		t.Fatalf("cgroup path %q parses to %+v, %v; want id %s", got.CgroupPath, info, ok, want.ID)
	}
}

// unifiedCgroupID stats the container's directory on the cgroup2 hierarchy.
func unifiedCgroupID(t *testing.T, c *Cache, path string) uint64 {
	t.Helper()
	m := c.CgroupMounts()
	if m == nil || m.V2 == nil {
		t.Skip("no cgroup2 hierarchy mounted: cgroup ids are not available")
	}
	dir, ok := m.V2.Dir(path)
	if !ok {
		t.Fatalf("cgroup %s not under %+v", path, m.V2)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestCacheWithRunc(t *testing.T) {
	env := runc.NewEnv(t)
	suffix := strconv.Itoa(os.Getpid())
	nameA, nameB, nameShort := "before-"+suffix, "after-"+suffix, "short-"+suffix
	a := env.Start(runc.Options{Name: nameA})

	c := newCache(t, env.Root)
	evs := subscribe(t, c)

	t.Run("started before the cache", func(t *testing.T) {
		got := c.Lookup(a.MntNS)
		checkContainer(t, got, a, nameA)
		if id := unifiedCgroupID(t, c, a.CgroupPath); got.CgroupID != id || c.LookupCgroup(id) != got {
			t.Fatalf("cgroup id %d, want %d; LookupCgroup = %+v", got.CgroupID, id, c.LookupCgroup(id))
		}
	})

	b := env.Start(runc.Options{Name: nameB})
	t.Run("started after the cache", func(t *testing.T) {
		evs.wait(t, EventAdd, b.MntNS, nameB)
		checkContainer(t, c.Lookup(b.MntNS), b, nameB)
	})

	t.Run("host and unknown namespaces", func(t *testing.T) {
		if c.Lookup(c.HostMntNS()) != nil {
			t.Fatal("host namespace attributed to a container")
		}
		self, err := readMntNS("self")
		if err != nil || self != c.HostMntNS() {
			t.Fatalf("host mntns %d, self %d (%v)", c.HostMntNS(), self, err)
		}
		const bogus = 1<<40 + 12345
		if c.Lookup(bogus) != nil {
			t.Fatal("bogus namespace attributed")
		}
		if _, cached := c.neg.Load(uint64(bogus)); !cached {
			t.Fatal("negative answer not cached")
		}
	})

	t.Run("selector", func(t *testing.T) {
		ours := []uint64{a.MntNS, b.MntNS}
		for _, tc := range []struct {
			sel  string
			want []uint64
		}{
			{nameA, []uint64{a.MntNS}},
			{nameA + "," + nameB, []uint64{a.MntNS, b.MntNS}},
			{"!" + nameA, []uint64{b.MntNS}},
			{nameB + ",!" + nameB, nil},
			{a.ID, []uint64{a.MntNS}},
		} {
			sel, err := ParseSelector(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, ns := range c.Select(sel) {
				if slices.Contains(ours, ns) {
					got = append(got, ns)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Select(%q) = %v, want %v", tc.sel, got, want)
			}
		}
	})

	t.Run("short-lived container", func(t *testing.T) {
		// It exits once the test creates /exit in its root, after the cache has seen it: how
		// long the cache takes to see it decides nothing.
		s := env.Start(runc.Options{Name: nameShort, Args: []string{"/bin/sh", "-c", "while [ ! -e /exit ]; do sleep 0.05; done"}})
		if s.MntNS == 0 {
			t.Fatal("the container's namespace could not be read")
		}
		evs.waitKnown(t, s.ID, nameShort)
		if err := os.WriteFile(filepath.Join(s.Bundle, "rootfs", "exit"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitStopped(time.Minute); err != nil {
			t.Fatal(err)
		}
		// Its namespace is gone now (a zombie's ns links are unreadable): only what inotify
		// captured while it ran can attribute it.
		got := c.Lookup(s.MntNS)
		if got == nil || got.Name != nameShort || got.ID != s.ID {
			t.Fatalf("short-lived container not attributed after it exited: %+v", got)
		}
	})

	t.Run("removed container lingers", func(t *testing.T) {
		b.Delete()
		evs.wait(t, EventRemove, b.MntNS, nameB)
		got := c.Lookup(b.MntNS)
		if got == nil || !got.Stopped || got.Name != nameB {
			t.Fatalf("after delete: %+v", got)
		}
		sel, _ := ParseSelector(nameB)
		if ns := c.Select(sel); len(ns) != 0 {
			t.Fatalf("stopped container still selected: %v", ns)
		}
	})
}

// TestLazyLookup: a container whose runtime state the cache does not watch is still found,
// the first time an event shows its mount namespace, from its cgroup path.
func TestLazyLookup(t *testing.T) {
	env := runc.NewEnv(t)
	c := newCache(t) // env.Root is not given
	x := env.Start(runc.Options{Name: "lazy"})
	got := c.Lookup(x.MntNS)
	if got == nil || got.ID != x.ID || got.Name != x.ID || got.CgroupPath != x.CgroupPath {
		t.Fatalf("lazy lookup: %+v, want id %s", got, x.ID)
	}
	if again := c.Lookup(x.MntNS); again != got {
		t.Fatal("second lookup did not come from the cache")
	}
}

// TestStateRoots reads a containerd-style task bundle and a runc state file written by hand,
// covering the Kubernetes annotations.
func TestStateRoots(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "k8s.io", "abc")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"hostname":"web-0","annotations":{
		"io.kubernetes.cri.container-type":"container",
		"io.kubernetes.cri.container-name":"nginx",
		"io.kubernetes.cri.sandbox-name":"web-0",
		"io.kubernetes.cri.sandbox-namespace":"shop",
		"io.kubernetes.cri.sandbox-uid":"u-1",
		"io.kubernetes.cri.image-name":"docker.io/library/nginx:1.27"}}`
	os.WriteFile(filepath.Join(bundle, "config.json"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(bundle, "init.pid"), []byte("4242"), 0o644)
	r := stateRoot{dir: dir, nsDepth: 1, kind: taskBundle, runtime: "containerd"}
	dirs := r.containerDirs()
	if len(dirs) != 1 || dirs[0] != bundle {
		t.Fatalf("container dirs %v", dirs)
	}
	m, err := r.readState(bundle)
	if err != nil {
		t.Fatal(err)
	}
	want := K8s{Namespace: "shop", Pod: "web-0", Container: "nginx", PodUID: "u-1"}
	if m.id != "abc" || m.pid != 4242 || m.name != "nginx" || m.k8s != want || m.runtime != "containerd" ||
		m.image != "docker.io/library/nginx:1.27" || m.hostname != "web-0" {
		t.Fatalf("bundle meta %+v", m)
	}

	crio := filepath.Join(dir, "runc", "def")
	os.MkdirAll(crio, 0o755)
	st := `{"id":"def","init_process_pid":77,"config":{"hostname":"h","labels":[
		"io.kubernetes.cri-o.ContainerType=sandbox","io.kubernetes.pod.name=p","io.kubernetes.pod.namespace=n",
		"bundle=/x"]}}`
	os.WriteFile(filepath.Join(crio, "state.json"), []byte(st), 0o600)
	m, err = stateRoot{dir: filepath.Dir(crio), runtime: "runc"}.readState(crio)
	if err != nil {
		t.Fatal(err)
	}
	if m.runtime != "cri-o" || !m.k8s.Sandbox || m.name != "p" || m.k8s.Namespace != "n" || m.pid != 77 {
		t.Fatalf("cri-o sandbox meta %+v", m)
	}
	if _, ok := m.annotations["bundle"]; ok {
		t.Fatal("bundle label kept as an annotation")
	}
}

// TestRootCreatedLater: a state root that does not exist when the cache starts (runc creates
// it with its first container) is picked up when it appears.
func TestRootCreatedLater(t *testing.T) {
	env := runc.NewEnv(t)
	late := filepath.Join(t.TempDir(), "late-root")
	c := newCache(t, late)
	evs := subscribe(t, c)
	env.Root = late // runc creates it
	x := env.Start(runc.Options{Name: "late"})
	evs.wait(t, EventAdd, x.MntNS, "late")
	if got := c.Lookup(x.MntNS); got == nil || got.Name != "late" || got.ID != x.ID {
		t.Fatalf("container in a late root: %+v", got)
	}
}

func TestProcStartTime(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	if procStartTime(self) == 0 {
		t.Fatal("no start time for this process")
	}
	if procStartTime("999999999") != 0 {
		t.Fatal("start time for a missing process")
	}
}

// nsHolder is a process in a new mount namespace (init) with a child in the same namespace
// (other), which keeps the namespace alive once init is killed.
type nsHolder struct {
	init, other int
	ns          uint64
	cmd         *exec.Cmd
}

func startNSHolder(t *testing.T) *nsHolder {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("creating a mount namespace needs root (CI=true)")
		}
		t.Skip("creating a mount namespace needs root")
	}
	cmd := exec.Command("/bin/sh", "-c", "sleep 1000000 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &nsHolder{init: cmd.Process.Pid, cmd: cmd}
	line, err := bufio.NewReader(out).ReadString('\n')
	if h.other, _ = strconv.Atoi(strings.TrimSpace(line)); err != nil || h.other <= 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the namespace holder did not print its child's pid: %q, %v", line, err)
	}
	t.Cleanup(func() {
		syscall.Kill(h.other, syscall.SIGKILL)
		h.killInit()
	})
	if h.ns, err = readMntNS(strconv.Itoa(h.other)); err != nil {
		t.Fatal(err)
	}
	if self, _ := readMntNS("self"); self == h.ns {
		t.Fatal("the holder is in this process's mount namespace")
	}
	return h
}

// killInit kills init and waits for it: its namespace lives on in other.
func (h *nsHolder) killInit() {
	if h.cmd != nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
		h.cmd = nil
	}
}

// writeRuncState makes root/id/state.json, as runc writes it, appear at once (a rename).
func writeRuncState(t *testing.T, root, id string, pid int) {
	t.Helper()
	tmp := filepath.Join(root, "."+id)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(pid)
	st := `{"id":"` + id + `","init_process_pid":` + p + `,"init_process_start":` +
		strconv.FormatUint(procStartTime(p), 10) + `,"config":{"hostname":"` + id + `"}}`
	if err := os.WriteFile(filepath.Join(tmp, "state.json"), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, id)); err != nil {
		t.Fatal(err)
	}
}

// nextFor returns the next event of mount namespace ns.
func (e *events) nextFor(t *testing.T, ns uint64, what string) Event {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a performance assertion
	for {
		select {
		case ev := <-e.ch:
			if ev.Container.MntNS == ns {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event for mntns %d (%s) in 30s (hang guard)", ns, what)
		}
	}
}

// TestReusedMntNS: the kernel reuses a dead mount namespace's inode number. A container known
// in a namespace id (here learnt when the cache started, its init since dead, its state left
// behind) followed by another container id in the same namespace id is a new container: the old
// one is removed and the new one added, never an update of the old one, and what is left of the
// old one (its state read again, its removal later) does not touch the new one. The same holds
// when the old container was removed and still lingers. The namespace is really shared: a
// second process keeps it alive after the first, the old container's init, is killed.
func TestReusedMntNS(t *testing.T) {
	h := startNSHolder(t)
	root := t.TempDir()
	writeRuncState(t, root, "old", h.init)
	c := newCache(t, root)
	if got := c.Lookup(h.ns); got == nil || got.ID != "old" || got.Stopped {
		t.Fatalf("the container learnt at start: %+v", got)
	}
	evs := subscribe(t, c)

	h.killInit() // old's init dies; its runtime does not delete its state
	writeRuncState(t, root, "new", h.other)
	ev := evs.nextFor(t, h.ns, "the new container")
	if ev.Type != EventRemove || ev.Container.ID != "old" || !ev.Container.Stopped {
		t.Fatalf("first event in the reused namespace: %s %+v, want remove of old", ev.Type, ev.Container)
	}
	ev = evs.nextFor(t, h.ns, "the new container")
	if ev.Type != EventAdd || ev.Container.ID != "new" || ev.Container.Stopped {
		t.Fatalf("second event in the reused namespace: %s %+v, want add of new", ev.Type, ev.Container)
	}
	check := func(when, id string, stopped bool) {
		t.Helper()
		if got := c.Lookup(h.ns); got == nil || got.ID != id || got.Stopped != stopped {
			t.Fatalf("%s: Lookup = %+v, want %s (stopped %v)", when, got, id, stopped)
		}
	}
	check("after the new container came", "new", false)
	sel, _ := ParseSelector("old")
	if ns := c.Select(sel); len(ns) != 0 {
		t.Errorf("the old container is still selected: %v", ns)
	}

	// Every state root read again (as a lazy lookup or an inotify overflow does): old's state,
	// whose init is dead, does not bring it back.
	c.mu.Lock()
	c.readRootsLocked()
	c.mu.Unlock()
	check("after reading the state roots again", "new", false)

	// old's runtime deletes it at last: what the watcher does when its directory goes.
	if err := os.RemoveAll(filepath.Join(root, "old")); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.stoppedLocked("old")
	c.mu.Unlock()
	check("after the old container was deleted", "new", false)

	// new is removed and lingers; newer comes in the same namespace id meanwhile.
	if err := os.RemoveAll(filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	if ev := evs.nextFor(t, h.ns, "the removal of new"); ev.Type != EventRemove || ev.Container.ID != "new" {
		t.Fatalf("after new's state went: %s %+v, want remove of new", ev.Type, ev.Container)
	}
	check("while new lingers", "new", true)
	writeRuncState(t, root, "newer", h.other)
	if ev := evs.nextFor(t, h.ns, "newer"); ev.Type != EventAdd || ev.Container.ID != "newer" || ev.Container.Stopped {
		t.Fatalf("a container in the id of a lingering one: %s %+v, want add of newer, running", ev.Type, ev.Container)
	}
	check("after newer came", "newer", false)
}
