package containers

import (
	"errors"
	"fmt"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// MntnsType is the field type (BTF typedef) that carries a mount namespace id.
const MntnsType = "gadget_mntns_id"

// EnrichPriority is the subscription priority of enrichment and selection: low, so that WASM
// guests and output, subscribed later with higher priorities, see the container fields.
const EnrichPriority = -1000

// ErrNoMntnsField is returned when a data source has no field of type gadget_mntns_id, so its
// events cannot be attributed to containers.
var ErrNoMntnsField = errors.New("no field of type " + MntnsType)

// Names of the fields AddEnrichment adds.
const (
	FieldContainerID       = "container.id"
	FieldContainerName     = "container.name"
	FieldContainerRuntime  = "container.runtime"
	FieldContainerImage    = "container.image"
	FieldContainerHostname = "container.hostname"
	FieldK8sNamespace      = "k8s.namespace"
	FieldK8sPod            = "k8s.pod"
	FieldK8sContainer      = "k8s.container"
)

// MntnsField returns ds's first field of type gadget_mntns_id, or nil.
func MntnsField(ds *datasource.DataSource) *datasource.Field {
	for _, f := range ds.Fields() {
		if f.Type == MntnsType && f.Kind.Size() == 8 {
			return f
		}
	}
	return nil
}

// AddEnrichment adds the container fields to ds and subscribes (at EnrichPriority) to fill them
// from cache for each record. Host events leave them unset (empty). It returns an error
// wrapping ErrNoMntnsField when ds has no mount namespace field.
func AddEnrichment(ds *datasource.DataSource, cache *Cache) error {
	src := MntnsField(ds)
	if src == nil {
		return fmt.Errorf("enriching data source %q with containers: %w", ds.Name, ErrNoMntnsField)
	}
	names := []string{FieldContainerID, FieldContainerName, FieldContainerRuntime,
		FieldContainerImage, FieldContainerHostname, FieldK8sNamespace, FieldK8sPod, FieldK8sContainer}
	fs := make([]*datasource.Field, len(names))
	for i, n := range names {
		f, err := ds.AddField(n, datasource.KindString)
		if err != nil {
			return fmt.Errorf("enriching data source %q with containers: %w", ds.Name, err)
		}
		f.Tags = append(f.Tags, "container")
		// The table shows the container's name; the rest are a --fields +x away (JSON has all).
		if n != FieldContainerName {
			f.Annotations["columns.hidden"] = "true"
		} else {
			f.Annotations["columns.width"] = "16"
		}
		fs[i] = f
	}
	id, name, runtime, image, host, ns, pod, kc := fs[0], fs[1], fs[2], fs[3], fs[4], fs[5], fs[6], fs[7]
	set := func(f *datasource.Field, d *datasource.Data, v []byte) {
		if len(v) > 0 {
			_ = f.SetBytes(d, v)
		}
	}
	ds.Subscribe(EnrichPriority, func(_ *datasource.DataSource, d *datasource.Data) error {
		c := cache.Lookup(src.Uint(d))
		if c == nil {
			return nil
		}
		e := &c.enc
		set(id, d, e.id)
		set(name, d, e.name)
		set(runtime, d, e.runtime)
		set(image, d, e.image)
		set(host, d, e.hostname)
		set(ns, d, e.k8sNS)
		set(pod, d, e.k8sPod)
		set(kc, d, e.k8sContainer)
		return nil
	})
	return nil
}

// AddSelection drops, in user space, the records of ds that sel does not select (host records
// included when sel.Filters()). It complements the in-kernel filter for gadgets that do not
// use gadget_mntns_filter_map. A selector that does not filter adds nothing.
func AddSelection(ds *datasource.DataSource, cache *Cache, sel Selector) error {
	if !sel.Filters() {
		return nil
	}
	src := MntnsField(ds)
	if src == nil {
		return fmt.Errorf("selecting containers %q in data source %q: %w", sel, ds.Name, ErrNoMntnsField)
	}
	ds.Subscribe(EnrichPriority-1, func(_ *datasource.DataSource, d *datasource.Data) error {
		if c := cache.Lookup(src.Uint(d)); c == nil || !sel.Match(c) {
			return datasource.ErrDrop
		}
		return nil
	})
	return nil
}
