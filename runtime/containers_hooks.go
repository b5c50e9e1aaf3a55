package runtime

import (
	"errors"
	"fmt"

	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// ContainerHooks returns the hooks of container enrichment: at Init every data source with a
// mount namespace field gets the container fields (and, when sel filters, unselected records
// are dropped in user space) and the in-kernel filter is switched on (`gadget_filter_by_mntns`,
// before load); at Start, before anything is attached, `gadget_mntns_filter_map` is filled with
// the selected containers' mount namespaces and kept in sync; at PostStop the sync ends.
// Put it after the WASM guest's hooks and before output in RunOptions.Hooks.
//
// A gadget built with GADGET_FILTER_PASS_UNKNOWN_MNTNS has the kernel pass the records of mount
// namespaces not decided yet; the selection decides them here, and the ones it drops go into
// gadget_mntns_seen_map (seen_mntns.go).
func ContainerHooks(cache *containers.Cache, sel containers.Selector) Hooks {
	var filter *containers.MntnsFilter
	var pass passUnknown
	return Hooks{
		Name: "containers",
		Init: func(r *Run) error {
			r.mu.Lock()
			r.containerCache = cache
			if sel.Filters() {
				r.discardMntns = func(mntns uint64) bool { return cache.ShouldDiscard(sel, mntns) }
			}
			r.mu.Unlock()
			for _, ds := range r.DataSources() {
				if err := containers.AddEnrichment(ds, cache); err != nil {
					if errors.Is(err, containers.ErrNoMntnsField) {
						continue
					}
					return err
				}
				if !sel.Filters() {
					continue
				}
				src := containers.MntnsField(ds)
				ds.Subscribe(containers.EnrichPriority-1, func(_ *datasource.DataSource, d *datasource.Data) error {
					mntns := src.Uint(d)
					if c := cache.Lookup(mntns); c == nil || !sel.Match(c) {
						pass.dropped(mntns)
						return datasource.ErrDrop
					}
					return nil
				})
			}
			if !sel.Filters() {
				return nil
			}
			if err := pass.init(r); err != nil {
				return err
			}
			if _, ok := r.g.spec.Variables[containers.FilterEnableVar]; ok {
				return r.SetVariable(containers.FilterEnableVar, true)
			}
			return nil
		},
		Start: func(r *Run) error {
			m := r.Map(containers.FilterMapName)
			if m == nil || !sel.Filters() {
				return nil
			}
			if pass.start(r) {
				// Containers the selection leaves out go into the seen map as the cache
				// learns them (those it knows now first), and leave it when removed.
				cancel := cache.Subscribe(func(ev containers.Event) { pass.container(ev, sel) })
				r.onClose = append(r.onClose, cancel)
				for _, c := range cache.Containers() {
					if !c.Stopped {
						pass.container(containers.Event{Type: containers.EventAdd, Container: c}, sel)
					}
				}
			}
			f, err := containers.NewMntnsFilter(m, cache, sel)
			if err != nil {
				return fmt.Errorf("filling %s: %w", containers.FilterMapName, err)
			}
			filter = f
			r.onClose = append(r.onClose, func() { _ = f.Close() })
			return nil
		},
		PostStop: func(*Run) error {
			if filter == nil {
				return nil
			}
			err := filter.Err()
			_ = filter.Close()
			filter = nil
			return err
		},
	}
}
