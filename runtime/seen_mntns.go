package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/containers"
)

// Names of what a gadget built with GADGET_FILTER_PASS_UNKNOWN_MNTNS has
// (gadgets/include/gadget/filter.h): with the variable set, the kernel passes on the records of
// mount namespaces in neither gadget_mntns_filter_map (selected) nor gadget_mntns_seen_map
// (found unselected), and the runtime decides them in user space.
const (
	passUnknownVar = "gadget_filter_pass_unknown"
	seenMapName    = "gadget_mntns_seen_map"
)

// seenMntns fills a gadget's gadget_mntns_seen_map with the mount namespaces whose records the
// selection dropped in user space, once each, so that the kernel drops the rest of them. The
// first records of a container that starts during the run thus reach user space, where the
// container cache finds it (lazily, if its watcher has not yet), whatever the order in which
// the container's first exec and the runtime's learning of it happen.
//
// A mount namespace id the kernel reuses after its namespace is gone keeps its entry: a new
// unselected namespace under it is dropped in the kernel as it should be, and a new selected
// one is in gadget_mntns_filter_map, which the kernel consults first. Only a selected
// container the cache has not learnt of yet, under a reused id, loses its first records.
type seenMntns struct {
	m    *ebpf.Map
	done sync.Map // uint64 → struct{}: put (or failed to put: the map is full) already
}

// add records that mntns is not selected. A full map is not an error: the records keep
// coming to user space, which drops them.
func (s *seenMntns) add(mntns uint64) {
	if _, loaded := s.done.LoadOrStore(mntns, struct{}{}); !loaded {
		_ = s.m.Put(mntns, uint32(1))
	}
}

// remove forgets mntns (its namespace is gone: the kernel may give its id to a new one).
func (s *seenMntns) remove(mntns uint64) {
	if _, ok := s.done.LoadAndDelete(mntns); ok {
		_ = s.m.Delete(mntns)
	}
}

// passUnknown is the seen map's life in a run: the variable is set at Init, the map filled at
// Start (the host's mount namespace first), and dropped records add to it from then on.
type passUnknown struct {
	seen atomic.Pointer[seenMntns]
}

// init turns the kernel's passing of unknown mount namespaces on when the gadget has it.
func (p *passUnknown) init(r *Run) error {
	if _, ok := r.g.spec.Variables[passUnknownVar]; !ok {
		return nil
	}
	return r.SetVariable(passUnknownVar, true)
}

// start takes the loaded seen map, with the host's mount namespace in it; it reports whether
// the gadget has one.
func (p *passUnknown) start(r *Run) bool {
	if _, ok := r.g.spec.Variables[passUnknownVar]; !ok {
		return false
	}
	m := r.Map(seenMapName)
	if m == nil || m.KeySize() != 8 || m.ValueSize() != 4 {
		return false
	}
	s := &seenMntns{m: m}
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/mnt", &st) == nil {
		s.add(st.Ino)
	}
	p.seen.Store(s)
	return true
}

// container keeps the seen map up to date with the cache: a container the selection leaves
// out is in it from the moment the cache knows it, and one the runtime removed leaves it.
func (p *passUnknown) container(ev containers.Event, sel containers.Selector) {
	s := p.seen.Load()
	if s == nil || ev.Container.MntNS == 0 {
		return
	}
	switch {
	case ev.Type == containers.EventRemove:
		s.remove(ev.Container.MntNS)
	case !sel.Match(ev.Container):
		s.add(ev.Container.MntNS)
	}
}

// dropped is called for each record the selection drops in user space.
func (p *passUnknown) dropped(mntns uint64) {
	if s := p.seen.Load(); s != nil {
		s.add(mntns)
	}
}
