package runtime

import (
	"errors"
	"fmt"

	"github.com/gadgetry/gadgetry/runtime/containers"
)

// ContainerHooks returns the hooks of container enrichment: at Init every data source with a
// mount namespace field gets the container fields (and, when sel filters, unselected records
// are dropped in user space) and the in-kernel filter is switched on (`gadget_filter_by_mntns`,
// before load); at Start, before anything is attached, `gadget_mntns_filter_map` is filled with
// the selected containers' mount namespaces and kept in sync; at PostStop the sync ends.
// Put it after the WASM guest's hooks and before output in RunOptions.Hooks.
func ContainerHooks(cache *containers.Cache, sel containers.Selector) Hooks {
	var filter *containers.MntnsFilter
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
				if err := containers.AddSelection(ds, cache, sel); err != nil {
					return err
				}
			}
			if _, ok := r.g.spec.Variables[containers.FilterEnableVar]; ok {
				return r.SetVariable(containers.FilterEnableVar, sel.Filters())
			}
			return nil
		},
		Start: func(r *Run) error {
			r.watchContainerRoots(cache, sel)
			m := r.Map(containers.FilterMapName)
			if m == nil || !sel.Filters() {
				return nil
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
