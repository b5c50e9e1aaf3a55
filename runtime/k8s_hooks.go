package runtime

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// MntnsSelection is a changing set of selected mount namespaces: the containers of the pods a
// Kubernetes selection matches on a node, say. It is what SelectionHooks filters by.
type MntnsSelection interface {
	// Selected reports whether events of mount namespace mntns are selected now.
	Selected(mntns uint64) bool
	// Watch returns the mount namespaces selected now and, atomically with that, calls fn
	// for every later change (selected true: added; false: removed) until cancel is called.
	// Calls are made one at a time; a call already under way may end after cancel returns.
	Watch(fn func(mntns uint64, selected bool)) (current []uint64, cancel func())
}

// SelectionHooks are ContainerHooks' selection half for a selection that is not a container
// name list: at Init the in-kernel filter is switched on (`gadget_filter_by_mntns`, before
// load), records of data sources with a mount namespace field that sel does not select are
// dropped in user space (for gadgets without the filter map) and the WASM host's
// shouldDiscardMntnsID answers from sel; at Start, before anything is attached,
// `gadget_mntns_filter_map` is filled with sel's mount namespaces and kept equal to them as
// they change; the sync ends when the run is closed. Host events are never selected. It fails
// at Init when the gadget cannot select containers (Gadget.SelectsContainers).
func SelectionHooks(sel MntnsSelection) Hooks {
	var ms *mntnsSync
	return Hooks{
		Name: "selection",
		Init: func(r *Run) error {
			r.mu.Lock()
			r.discardMntns = func(mntns uint64) bool { return !sel.Selected(mntns) }
			r.mu.Unlock()
			found := false
			for _, ds := range r.DataSources() {
				src := containers.MntnsField(ds)
				if src == nil {
					continue
				}
				found = true
				ds.Subscribe(containers.EnrichPriority-1, func(_ *datasource.DataSource, d *datasource.Data) error {
					if !sel.Selected(src.Uint(d)) {
						return datasource.ErrDrop
					}
					return nil
				})
			}
			if !found && !r.g.SelectsContainers() {
				return fmt.Errorf("the gadget records no mount namespace (no field of type %s) and does not ask for the containers data source (annotation %s: true): it cannot select containers", containers.MntnsType, ContainersDataSourceAnnotation)
			}
			if _, ok := r.g.spec.Variables[containers.FilterEnableVar]; ok {
				return r.SetVariable(containers.FilterEnableVar, true)
			}
			return nil
		},
		Start: func(r *Run) error {
			m := r.Map(containers.FilterMapName)
			if m == nil {
				return nil
			}
			s, err := newMntnsSync(m, sel)
			if err != nil {
				return fmt.Errorf("filling %s: %w", containers.FilterMapName, err)
			}
			ms = s
			r.onClose = append(r.onClose, s.close)
			return nil
		},
		PostStop: func(*Run) error {
			if ms == nil {
				return nil
			}
			return ms.Err()
		},
	}
}

// mntnsSync keeps a filter map (u64 mntns → u32) equal to a selection.
type mntnsSync struct {
	m      *ebpf.Map
	cancel func()

	mu     sync.Mutex
	err    error
	closed bool
}

func newMntnsSync(m *ebpf.Map, sel MntnsSelection) (*mntnsSync, error) {
	if m.KeySize() != 8 || m.ValueSize() != 4 {
		return nil, fmt.Errorf("key/value sizes are %d/%d, want 8/4 (u64 mntns id → u32)", m.KeySize(), m.ValueSize())
	}
	s := &mntnsSync{m: m}
	cur, cancel := sel.Watch(s.change)
	s.cancel = cancel
	for _, ns := range cur {
		if err := m.Put(ns, uint32(1)); err != nil {
			cancel()
			return nil, fmt.Errorf("adding mount namespace %d: %w", ns, err)
		}
	}
	return s, nil
}

func (s *mntnsSync) change(mntns uint64, selected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	var err error
	if selected {
		if err = s.m.Put(mntns, uint32(1)); err != nil {
			err = fmt.Errorf("adding mount namespace %d to %s: %w", mntns, containers.FilterMapName, err)
		}
	} else if err = s.m.Delete(mntns); errors.Is(err, ebpf.ErrKeyNotExist) {
		err = nil
	}
	if err != nil && s.err == nil {
		s.err = err
	}
}

// Err returns the first error met while updating the map (the map is full, say).
func (s *mntnsSync) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// close ends the sync; the map is closed with the collection after it.
func (s *mntnsSync) close() {
	s.cancel()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
