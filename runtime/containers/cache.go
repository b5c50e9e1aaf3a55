package containers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Cache.
type Options struct {
	// RuncRoots are extra runc state roots (the --root given to runc), watched beside the
	// default ones (/run/runc, /run/containerd/runc/<ns>, /run/docker/runtime-runc/<ns>).
	RuncRoots []string
	// NoDefaultRoots leaves out the default state roots and containerd task bundles, so only
	// RuncRoots, /proc and cgroup paths are used.
	NoDefaultRoots bool
	// Linger is how long a stopped container stays attributable (events still in flight when
	// the runtime deletes it). Default 1 minute.
	Linger time.Duration
	// Logf receives non-fatal problems (an unreadable state file, a lost inotify watch).
	// Default: discard.
	Logf func(format string, args ...any)
}

// EventType says what happened to a container.
type EventType int

// Event types.
const (
	// EventAdd: a container became known.
	EventAdd EventType = iota + 1
	// EventUpdate: more was learnt about a known container (e.g. its name).
	EventUpdate
	// EventRemove: the runtime removed the container.
	EventRemove
)

// String returns "add", "update" or "remove".
func (t EventType) String() string {
	switch t {
	case EventAdd:
		return "add"
	case EventUpdate:
		return "update"
	case EventRemove:
		return "remove"
	}
	return "event(" + strconv.Itoa(int(t)) + ")"
}

// Event tells a subscriber about a container.
type Event struct {
	Type      EventType
	Container *Container
}

// Cache maps mount namespace ids and cgroup ids to containers. It is safe for concurrent use;
// lookups take no lock.
type Cache struct {
	opts      Options
	hostMntNS uint64
	hostNetNS uint64 // 0 when unreadable
	mounts    *CgroupMounts
	roots     []stateRoot

	snap atomic.Pointer[snapshot]
	// neg holds mount namespaces known not to be containers (uint64 → struct{}). Kept apart
	// from the snapshot so that many of them do not make every snapshot copy longer.
	neg sync.Map

	mu        sync.Mutex // serialises writers and event delivery
	metaByID  map[string]*meta
	mntnsByID map[string]uint64
	timers    map[uint64]*time.Timer
	subs      map[int]*subscriber
	nextSub   int
	closed    bool

	lazyMu sync.Mutex

	// Events are delivered in order by one goroutine, outside every lock, so subscribers may
	// call any Cache method.
	qmu     sync.Mutex
	qcond   *sync.Cond
	queue   []delivery
	qclosed bool
	qdone   chan struct{}

	w *watcher
}

type delivery struct {
	fn func(Event)
	ev Event
}

type subscriber struct {
	sel *Selector // nil: every event
	fn  func(Event)
}

// snapshot is the read side: replaced as a whole on every change.
type snapshot struct {
	byMntns  map[uint64]*Container
	byCgroup map[uint64]*Container
}

// New builds a cache: it starts watching the runtimes' state directories, reads them, then scans
// /proc once for processes in other mount namespaces. ctx bounds the initial scan only.
func New(ctx context.Context, opts Options) (*Cache, error) {
	if opts.Linger <= 0 {
		opts.Linger = time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	host, err := readMntNS("self")
	if err != nil {
		return nil, fmt.Errorf("reading this process's mount namespace (/proc/self/ns/mnt), the host reference: %w", err)
	}
	mounts, err := ReadCgroupMounts()
	if err != nil {
		opts.Logf("containers: %v; cgroup ids will be unknown", err)
	}
	hostNet, _ := readNS("self", "net")
	c := &Cache{
		opts:      opts,
		hostMntNS: host,
		hostNetNS: hostNet,
		mounts:    mounts,
		metaByID:  map[string]*meta{},
		mntnsByID: map[string]uint64{},
		timers:    map[uint64]*time.Timer{},
		subs:      map[int]*subscriber{},
		qdone:     make(chan struct{}),
	}
	c.qcond = sync.NewCond(&c.qmu)
	go c.deliverLoop()
	c.snap.Store(&snapshot{byMntns: map[uint64]*Container{}, byCgroup: map[uint64]*Container{}})
	if !opts.NoDefaultRoots {
		c.roots = defaultRoots()
	}
	for _, r := range opts.RuncRoots {
		c.roots = append(c.roots, stateRoot{dir: r, runtime: "runc"})
	}
	// Watch first, then read: a container created in between is seen at least once.
	if c.w, err = newWatcher(c); err != nil {
		c.stopDelivery()
		return nil, err
	}
	for _, r := range c.roots {
		c.w.addRoot(r) // also reads the containers already there
	}
	c.w.start()
	if err := c.scanProc(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close stops watching. Lookups keep answering from what is cached.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, t := range c.timers {
		t.Stop()
	}
	c.subs = map[int]*subscriber{}
	c.mu.Unlock()
	err := c.w.close()
	c.stopDelivery()
	return err
}

func (c *Cache) stopDelivery() {
	c.qmu.Lock()
	c.qclosed = true
	c.qcond.Broadcast()
	c.qmu.Unlock()
	<-c.qdone
}

func (c *Cache) deliverLoop() {
	defer close(c.qdone)
	for {
		c.qmu.Lock()
		for len(c.queue) == 0 && !c.qclosed {
			c.qcond.Wait()
		}
		if c.qclosed {
			c.qmu.Unlock()
			return
		}
		q := c.queue
		c.queue = nil
		c.qmu.Unlock()
		for _, d := range q {
			d.fn(d.ev)
		}
	}
}

// HostMntNS is the mount namespace taken as the host's: this process's.
func (c *Cache) HostMntNS() uint64 { return c.hostMntNS }

// CgroupMounts returns the cgroup hierarchies the cache uses (nil if none was found).
func (c *Cache) CgroupMounts() *CgroupMounts { return c.mounts }

// Lookup returns the container whose mount namespace is mntns, or nil for the host and for
// namespaces that are not containers. A namespace never seen before is resolved once (a walk
// of /proc and the state roots) and the answer, positive or negative, is cached; every later
// call is a map read.
func (c *Cache) Lookup(mntns uint64) *Container {
	if mntns == 0 || mntns == c.hostMntNS {
		return nil
	}
	if ct, ok := c.snap.Load().byMntns[mntns]; ok {
		return ct
	}
	if _, no := c.neg.Load(mntns); no {
		return nil
	}
	return c.lazy(mntns)
}

// LookupCgroup returns the container whose cgroup v2 id is id, or nil. It never reads /proc:
// cgroup ids are learnt with their containers.
func (c *Cache) LookupCgroup(id uint64) *Container {
	return c.snap.Load().byCgroup[id]
}

// Containers returns the known containers, stopped ones included.
func (c *Cache) Containers() []*Container {
	s := c.snap.Load()
	out := make([]*Container, 0, len(s.byMntns))
	for _, ct := range s.byMntns {
		if ct != nil {
			out = append(out, ct)
		}
	}
	return out
}

// Select returns the mount namespace ids of the running containers that sel matches.
func (c *Cache) Select(sel Selector) []uint64 {
	var out []uint64
	for _, ct := range c.Containers() {
		if !ct.Stopped && sel.Match(ct) {
			out = append(out, ct.MntNS)
		}
	}
	return out
}

// Subscribe calls fn for every container event until the returned cancel is called. Calls are
// made in order, one at a time, from a goroutine of the cache, after the cache is updated; fn
// may call the cache's methods but should not block for long. A call already queued may still
// happen after cancel returns.
func (c *Cache) Subscribe(fn func(Event)) (cancel func()) {
	_, cancel = c.watch(nil, fn)
	return cancel
}

// Watch returns the running containers sel matches and, atomically with that, subscribes fn to
// the events of containers sel matches (added, updated, removed), so nothing falls between
// the two.
func (c *Cache) Watch(sel Selector, fn func(Event)) (current []*Container, cancel func()) {
	return c.watch(&sel, fn)
}

func (c *Cache) watch(sel *Selector, fn func(Event)) ([]*Container, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cur []*Container
	if sel != nil {
		for _, ct := range c.snap.Load().byMntns {
			if ct != nil && !ct.Stopped && sel.Match(ct) {
				cur = append(cur, ct)
			}
		}
	}
	if c.closed {
		return cur, func() {}
	}
	id := c.nextSub
	c.nextSub++
	c.subs[id] = &subscriber{sel: sel, fn: fn}
	return cur, func() {
		c.mu.Lock()
		delete(c.subs, id)
		c.mu.Unlock()
	}
}

// notifyLocked tells subscribers about ev; old is the container's previous state (nil if new).
// A selector subscriber sees an event when the container matches, and a remove event when an
// update makes a matching container stop matching.
func (c *Cache) notifyLocked(ev Event, old *Container) {
	ids := make([]int, 0, len(c.subs))
	for id := range c.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids) // subscription order
	var ds []delivery
	for _, id := range ids {
		s := c.subs[id]
		switch {
		case s.sel == nil || s.sel.Match(ev.Container):
			ds = append(ds, delivery{s.fn, ev})
		case old != nil && !old.Stopped && s.sel.Match(old):
			ds = append(ds, delivery{s.fn, Event{Type: EventRemove, Container: ev.Container}})
		}
	}
	if len(ds) == 0 {
		return
	}
	c.qmu.Lock()
	c.queue = append(c.queue, ds...)
	c.qcond.Signal()
	c.qmu.Unlock()
}

// update replaces the snapshot with one changed by fn. Callers hold c.mu.
func (c *Cache) updateLocked(fn func(s *snapshot)) {
	old := c.snap.Load()
	s := &snapshot{
		byMntns:  make(map[uint64]*Container, len(old.byMntns)+1),
		byCgroup: make(map[uint64]*Container, len(old.byCgroup)+1),
	}
	for k, v := range old.byMntns {
		s.byMntns[k] = v
	}
	for k, v := range old.byCgroup {
		s.byCgroup[k] = v
	}
	fn(s)
	c.snap.Store(s)
}

// putLocked stores ct (keyed by its mount namespace) and tells subscribers.
func (c *Cache) putLocked(ct *Container) {
	if ct.MntNS == 0 || ct.MntNS == c.hostMntNS {
		return
	}
	old := c.snap.Load().byMntns[ct.MntNS]
	// A namespace id is an inode number, which the kernel reuses once the namespace is gone:
	// another container id in a known namespace is a new container in a reused id, and the
	// old one, whose runtime state may still be there (its init died, nobody deleted it), is
	// gone. It is removed first, and its id no longer leads to this namespace.
	replaced := old != nil && old.ID != ct.ID
	if replaced {
		if ns, ok := c.mntnsByID[old.ID]; ok && ns == ct.MntNS {
			delete(c.mntnsByID, old.ID)
		}
		if !old.Stopped {
			gone := *old
			gone.Stopped = true
			c.notifyLocked(Event{Type: EventRemove, Container: &gone}, old)
		}
	}
	if old != nil && old.ID == ct.ID {
		// The same container: keep what the older entry knew and the newer one does not.
		if ct.CgroupID == 0 {
			ct.CgroupID = old.CgroupID
		}
		if ct.CgroupPath == "" {
			ct.CgroupPath = old.CgroupPath
		}
		if ct.K8s.PodUID == "" {
			ct.K8s.PodUID = old.K8s.PodUID
		}
		if ct.Pid == 0 {
			ct.Pid = old.Pid
		}
		if ct.Runtime == "" {
			ct.Runtime = old.Runtime
		}
		if ct.StartedAt.IsZero() {
			ct.StartedAt = old.StartedAt
		}
		if ct.Pid == old.Pid && !ct.HostNetwork {
			ct.HostNetwork = old.HostNetwork
		}
	}
	c.procInfoLocked(ct)
	if old != nil && old.ID == ct.ID {
		if equalContainers(old, ct) {
			return
		}
	}
	ct.encode()
	c.neg.Delete(ct.MntNS) // a namespace first seen as "not a container" may become one
	if t := c.timers[ct.MntNS]; t != nil && !ct.Stopped {
		t.Stop()
		delete(c.timers, ct.MntNS)
	}
	c.updateLocked(func(s *snapshot) {
		if old != nil && old.CgroupID != 0 && old.CgroupID != ct.CgroupID {
			delete(s.byCgroup, old.CgroupID)
		}
		s.byMntns[ct.MntNS] = ct
		if ct.CgroupID != 0 {
			s.byCgroup[ct.CgroupID] = ct
		}
	})
	if ct.ID != "" {
		c.mntnsByID[ct.ID] = ct.MntNS
	}
	switch {
	case ct.Stopped:
		c.notifyLocked(Event{Type: EventRemove, Container: ct}, old)
	case replaced:
		c.notifyLocked(Event{Type: EventAdd, Container: ct}, nil)
	case old == nil || old.Stopped:
		c.notifyLocked(Event{Type: EventAdd, Container: ct}, old)
	default:
		c.notifyLocked(Event{Type: EventUpdate, Container: ct}, old)
	}
}

func equalContainers(a, b *Container) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Runtime == b.Runtime && a.Image == b.Image &&
		a.Hostname == b.Hostname && a.Pid == b.Pid && a.CgroupPath == b.CgroupPath &&
		a.CgroupID == b.CgroupID && a.K8s == b.K8s && a.Stopped == b.Stopped &&
		a.StartedAt.Equal(b.StartedAt) && a.HostNetwork == b.HostNetwork
}

// procInfoLocked fills what ct's init process tells and its runtime's state did not: when it
// started, and whether it shares the host's network namespace. Once per stored container.
func (c *Cache) procInfoLocked(ct *Container) {
	if ct.Pid <= 0 || ct.Stopped {
		return
	}
	pid := strconv.Itoa(ct.Pid)
	if ct.StartedAt.IsZero() {
		ct.StartedAt = procStarted(pid)
	}
	if c.hostNetNS != 0 && !ct.HostNetwork {
		if ns, err := readNS(pid, "net"); err == nil && ns == c.hostNetNS {
			ct.HostNetwork = true
		}
	}
}

// learnMetaLocked records what a runtime's state says and, when the container's init process
// is alive, resolves its mount namespace and stores the container.
func (c *Cache) learnMetaLocked(m *meta) {
	c.metaByID[m.id] = m
	mntns := c.mntnsByID[m.id]
	if m.pid > 0 && (m.pidStart == 0 || procStartTime(strconv.Itoa(m.pid)) == m.pidStart) {
		// (A different start time means the init died and its pid was reused.)
		pid := strconv.Itoa(m.pid)
		if ns, err := readMntNS(pid); err == nil {
			mntns = ns
			if pc, err := readProcCgroups(pid); err == nil {
				m.cgroupPath = pc.bestPath()
				if m.cgroupID == 0 {
					m.cgroupID = cgroupID(c.mounts, pc.unified)
				}
				if _, info, ok := pc.containerCgroup(); ok && m.k8s.PodUID == "" {
					m.k8s.PodUID = info.PodUID
				}
			}
		}
	}
	if mntns == 0 {
		return // the process is gone and we never saw it: nothing to key it by
	}
	ct := m.container(mntns)
	ct.CgroupID = m.cgroupID
	if old := c.snap.Load().byMntns[mntns]; old != nil && old.Stopped && old.ID == m.id {
		ct.Stopped = true // its runtime removed it already; a late read of its state
	}
	c.putLocked(ct)
}

// stoppedLocked marks container id as removed by its runtime and schedules its eviction.
func (c *Cache) stoppedLocked(id string) {
	delete(c.metaByID, id)
	mntns, ok := c.mntnsByID[id]
	if !ok {
		return
	}
	delete(c.mntnsByID, id)
	old := c.snap.Load().byMntns[mntns]
	if old == nil || old.Stopped {
		return
	}
	ct := *old
	ct.Stopped = true
	c.putLocked(&ct)
	stopped := c.snap.Load().byMntns[mntns]
	if c.closed {
		return
	}
	c.timers[mntns] = time.AfterFunc(c.opts.Linger, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.snap.Load().byMntns[mntns] != stopped {
			return
		}
		delete(c.timers, mntns)
		c.updateLocked(func(s *snapshot) {
			delete(s.byMntns, mntns)
			if stopped.CgroupID != 0 && s.byCgroup[stopped.CgroupID] == stopped {
				delete(s.byCgroup, stopped.CgroupID)
			}
		})
	})
}

// readRootsLocked reads every container directory of every state root.
func (c *Cache) readRootsLocked() {
	for _, r := range c.roots {
		for _, d := range r.containerDirs() {
			m, err := r.readState(d)
			if err != nil {
				continue // not ready yet (no state file) or gone
			}
			c.learnMetaLocked(m)
		}
	}
}

// scanProc walks /proc once and stores a container for every mount namespace, other than the
// host's, whose processes are in a container's cgroup or are a runtime's init process.
func (c *Cache) scanProc(ctx context.Context) error {
	pids, err := listPids()
	if err != nil {
		return fmt.Errorf("scanning /proc for containers started before us: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[uint64]bool{}
	for _, p := range pids {
		if err := ctx.Err(); err != nil {
			return err
		}
		ns, err := readMntNS(p)
		if err != nil || ns == c.hostMntNS || seen[ns] {
			continue
		}
		if _, known := c.snap.Load().byMntns[ns]; known {
			seen[ns] = true
			continue
		}
		seen[ns] = true
		if !c.resolvePidLocked(p, ns) {
			// Not a container (a service's private namespace, another tool's unshare). If it
			// is a container being created, its state file will replace this answer.
			c.neg.Store(ns, struct{}{})
		}
	}
	return nil
}

// resolvePidLocked works out the container of process pid, in mount namespace ns, from its
// cgroup and the runtimes' state, and stores it. It reports whether pid was in a container.
func (c *Cache) resolvePidLocked(pid string, ns uint64) bool {
	pc, err := readProcCgroups(pid)
	if err != nil {
		return false
	}
	_, info, ok := pc.containerCgroup()
	var m *meta
	if ok {
		m = c.metaByID[info.ID]
	}
	if m == nil {
		n, _ := strconv.Atoi(pid)
		for _, mm := range c.metaByID {
			if mm.pid == n {
				m = mm
				break
			}
		}
	}
	var ct *Container
	switch {
	case m != nil:
		ct = m.container(ns)
	case ok:
		ct = &Container{ID: info.ID, Name: info.ID, Runtime: info.Runtime, MntNS: ns}
		ct.K8s.PodUID = info.PodUID
		if n, err := strconv.Atoi(pid); err == nil {
			ct.Pid = n
		}
	default:
		return false
	}
	if ct.K8s.PodUID == "" {
		ct.K8s.PodUID = info.PodUID
	}
	ct.CgroupPath = pc.bestPath()
	ct.CgroupID = cgroupID(c.mounts, pc.unified)
	c.putLocked(ct)
	return true
}

// lazy resolves a mount namespace seen for the first time: find a process in it, then its
// container. The answer is cached either way.
func (c *Cache) lazy(mntns uint64) *Container {
	c.lazyMu.Lock()
	defer c.lazyMu.Unlock()
	if ct, ok := c.snap.Load().byMntns[mntns]; ok {
		return ct
	}
	if _, no := c.neg.Load(mntns); no {
		return nil
	}
	pid := ""
	if pids, err := listPids(); err == nil {
		for _, p := range pids {
			if ns, err := readMntNS(p); err == nil && ns == mntns {
				pid = p
				break
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ct, ok := c.snap.Load().byMntns[mntns]; ok {
		return ct // learnt meanwhile (inotify)
	}
	if pid != "" {
		// The runtime may have written state we have not seen yet: read the roots again.
		c.readRootsLocked()
		if ct := c.snap.Load().byMntns[mntns]; ct != nil {
			return ct
		}
		if c.resolvePidLocked(pid, mntns) {
			return c.snap.Load().byMntns[mntns]
		}
	}
	c.neg.Store(mntns, struct{}{})
	return nil
}
