package containers

import (
	"errors"
	"fmt"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// MntnsType is the field type (BTF typedef) that carries a mount namespace id.
const MntnsType = "gadget_mntns_id"

// EnrichPriority is the subscription priority of enrichment and selection: low, so that WASM
// guests and output, subscribed later with higher priorities, see the container fields.
const EnrichPriority = -1000

// ErrNoMntnsField is returned when a data source has no field of type gadget_mntns_id, so its
// events cannot be attributed to containers.
var ErrNoMntnsField = errors.New("no field of type " + MntnsType)

// Names of the fields AddEnrichment adds: Inspektor Gadget's enrichment fields, with its names
// and kinds, so that JSON consumers written for ig read Gadgetry's output unchanged
// (docs/compatibility.md, "Output schema"), and one field of Gadgetry's own
// (FieldContainerHostname).
const (
	FieldContainerName        = "runtime.containerName"        // string
	FieldRuntimeName          = "runtime.runtimeName"          // string: runc, containerd, docker, cri-o, podman
	FieldContainerID          = "runtime.containerId"          // string
	FieldContainerPid         = "runtime.containerPid"         // uint32: the init process, from the host
	FieldContainerImageName   = "runtime.containerImageName"   // string
	FieldContainerImageDigest = "runtime.containerImageDigest" // string: "" (no state Gadgetry reads records it)
	FieldContainerStartedAt   = "runtime.containerStartedAt"   // int64: ns since the epoch
	FieldContainerHostname    = "runtime.containerHostname"    // string, Gadgetry's: the OCI config's hostname
	FieldK8sNode              = "k8s.node"                     // string: set by a node's daemon
	FieldK8sNamespace         = "k8s.namespace"                // string
	FieldK8sPodName           = "k8s.podName"                  // string
	FieldK8sContainerName     = "k8s.containerName"            // string
	FieldK8sHostNetwork       = "k8s.hostnetwork"              // bool
	FieldK8sPodLabels         = "k8s.podLabels"                // string "k=v,k2=v2": set by a node's daemon
	FieldK8sOwnerKind         = "k8s.owner.kind"               // string: "" (the CRI does not say)
	FieldK8sOwnerName         = "k8s.owner.name"               // string: "" (idem)
)

// enrichFields are the fields AddEnrichment adds, in order, with their kinds. Every one is
// always in JSON, "", 0 or false when a record has no value (a host event), as in IG's.
var enrichFields = []struct {
	name string
	kind datasource.Kind
	tag  string
}{
	{FieldK8sNode, datasource.KindString, "kubernetes"},
	{FieldK8sNamespace, datasource.KindString, "kubernetes"},
	{FieldK8sPodName, datasource.KindString, "kubernetes"},
	{FieldK8sContainerName, datasource.KindString, "kubernetes"},
	{FieldK8sHostNetwork, datasource.KindBool, "kubernetes"},
	{FieldK8sPodLabels, datasource.KindString, "kubernetes"},
	{FieldK8sOwnerKind, datasource.KindString, "kubernetes"},
	{FieldK8sOwnerName, datasource.KindString, "kubernetes"},
	{FieldContainerName, datasource.KindString, "container"},
	{FieldRuntimeName, datasource.KindString, "container"},
	{FieldContainerID, datasource.KindString, "container"},
	{FieldContainerPid, datasource.KindUint32, "container"},
	{FieldContainerImageName, datasource.KindString, "container"},
	{FieldContainerImageDigest, datasource.KindString, "container"},
	{FieldContainerStartedAt, datasource.KindInt64, "container"},
	{FieldContainerHostname, datasource.KindString, "container"},
}

// EnrichmentFields names the fields AddEnrichment adds to a data source with a MntnsType
// field, in order.
func EnrichmentFields() []string {
	names := make([]string, len(enrichFields))
	for i, f := range enrichFields {
		names[i] = f.name
	}
	return names
}

// Column headers of the enrichment fields tables show (format's columns.alias).
var enrichAliases = map[string]string{
	FieldContainerName: "container", FieldK8sNode: "node", FieldK8sNamespace: "namespace",
	FieldK8sPodName: "pod", FieldK8sContainerName: "container",
}

// EnrichmentField returns ds's enrichment field name (one of the Field constants), adding it,
// with its kind, tag and annotations, when ds does not have it yet. A node's daemon fills
// k8s.node and the pod's fields through it.
func EnrichmentField(ds *datasource.DataSource, name string) (*datasource.Field, error) {
	if f := ds.Field(name); f != nil {
		return f, nil
	}
	for _, e := range enrichFields {
		if e.name != name {
			continue
		}
		f, err := ds.AddField(e.name, e.kind)
		if err != nil {
			return nil, err
		}
		f.Tags = append(f.Tags, e.tag)
		f.Annotations[format.UnsetAnnotation] = "zero"
		if a := enrichAliases[name]; a != "" {
			f.Annotations["columns.alias"] = a
		}
		// The table shows the container's name; the rest are a --fields +x away (JSON has all).
		if name == FieldContainerName {
			f.Annotations["columns.width"] = "16"
		} else {
			f.Annotations["columns.hidden"] = "true"
		}
		return f, nil
	}
	return nil, fmt.Errorf("%q is not an enrichment field", name)
}

// MntnsField returns ds's first field of type gadget_mntns_id, or nil.
func MntnsField(ds *datasource.DataSource) *datasource.Field {
	for _, f := range ds.Fields() {
		if f.Type == MntnsType && f.Kind.Size() == 8 {
			return f
		}
	}
	return nil
}

// AddEnrichment adds the enrichment fields (the Field constants) to ds and subscribes (at
// EnrichPriority) to fill the container's from cache for each record. Host events leave them
// unset ("", 0, false in JSON). It returns an error wrapping ErrNoMntnsField when ds has no
// mount namespace field.
func AddEnrichment(ds *datasource.DataSource, cache *Cache) error {
	src := MntnsField(ds)
	if src == nil {
		return fmt.Errorf("enriching data source %q with containers: %w", ds.Name, ErrNoMntnsField)
	}
	fs := map[string]*datasource.Field{}
	for _, e := range enrichFields {
		f, err := EnrichmentField(ds, e.name)
		if err != nil {
			return fmt.Errorf("enriching data source %q with containers: %w", ds.Name, err)
		}
		fs[e.name] = f
	}
	id, name, runtime, image, host := fs[FieldContainerID], fs[FieldContainerName], fs[FieldRuntimeName],
		fs[FieldContainerImageName], fs[FieldContainerHostname]
	ns, pod, kc := fs[FieldK8sNamespace], fs[FieldK8sPodName], fs[FieldK8sContainerName]
	pid, started, hostNet := fs[FieldContainerPid], fs[FieldContainerStartedAt], fs[FieldK8sHostNetwork]
	set := func(f *datasource.Field, d *datasource.Data, v []byte) {
		if len(v) > 0 {
			_ = f.SetBytes(d, v)
		}
	}
	setNum := func(f *datasource.Field, d *datasource.Data, v uint64) {
		if v != 0 {
			_ = f.SetUint(d, v)
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
		setNum(pid, d, e.pid)
		setNum(started, d, e.startedAt)
		setNum(hostNet, d, e.hostNetwork)
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
