package containers

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
)

// Well-known names of the in-kernel mount namespace filter (gadgets/include/gadget/filter.h).
const (
	// FilterMapName is the hash map mntns id (u64) → u32 of the selected namespaces.
	FilterMapName = "gadget_mntns_filter_map"
	// FilterEnableVar is the const volatile bool that turns the filter on.
	FilterEnableVar = "gadget_filter_by_mntns"
)

// MntnsFilter keeps a gadget's mount namespace filter map equal to the mount namespaces of the
// running containers a selector matches: filled at creation, then updated as containers come
// and go. The runtime sets gadget_filter_by_mntns to sel.Filters() before loading.
type MntnsFilter struct {
	m      *ebpf.Map
	cancel func()

	mu  sync.Mutex
	err error
}

// NewMntnsFilter fills m (key u64, value u32) with the mount namespaces of the containers sel
// matches and keeps it updated until Close. The map is not closed by Close.
func NewMntnsFilter(m *ebpf.Map, cache *Cache, sel Selector) (*MntnsFilter, error) {
	if m.KeySize() != 8 || m.ValueSize() != 4 {
		return nil, fmt.Errorf("%s: key/value sizes are %d/%d, want 8/4 (u64 mntns id → u32)",
			FilterMapName, m.KeySize(), m.ValueSize())
	}
	f := &MntnsFilter{m: m}
	cur, cancel := cache.Watch(sel, f.event)
	f.cancel = cancel
	for _, c := range cur {
		if err := f.m.Put(c.MntNS, uint32(1)); err != nil {
			cancel()
			return nil, fmt.Errorf("adding container %s (mntns %d) to %s: %w", c.Name, c.MntNS, FilterMapName, err)
		}
	}
	return f, nil
}

func (f *MntnsFilter) event(ev Event) {
	var err error
	switch ev.Type {
	case EventAdd, EventUpdate:
		err = f.m.Put(ev.Container.MntNS, uint32(1))
		if err != nil {
			err = fmt.Errorf("adding container %s (mntns %d) to %s: %w", ev.Container.Name, ev.Container.MntNS, FilterMapName, err)
		}
	case EventRemove:
		err = f.m.Delete(ev.Container.MntNS)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = nil
		}
	}
	if err != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
}

// Err returns the first error met while updating the map (e.g. the map is full), or nil.
func (f *MntnsFilter) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close stops updating the map.
func (f *MntnsFilter) Close() error {
	f.cancel()
	return f.Err()
}
