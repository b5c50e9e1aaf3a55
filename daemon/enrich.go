package daemon

import (
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// The fields a daemon adds to every record (the names Inspektor Gadget's JSON uses).
const (
	FieldNode          = "k8s.node"
	FieldNamespace     = "k8s.namespace"
	FieldPodName       = "k8s.podName"
	FieldContainerName = "k8s.containerName"
	FieldPodLabels     = "k8s.podLabels"
)

// enrichPriority runs after the container cache's enrichment (containers.EnrichPriority), so
// the pod's values win where both set a field, and before WASM guests and output.
const enrichPriority = containers.EnrichPriority + 1

// k8sHooks adds k8s.node (the daemon's node name) to every data source and, with pods (a
// Kubernetes node), the pod's namespace, name, container name and labels to the records of
// data sources with a mount namespace field. A field that already exists (the container
// cache's k8s.namespace) is reused. Tables show node, namespace, pod and container; the
// labels are in JSON and a --fields +k8s.podLabels away. The cache's container.name and its
// k8s.pod/k8s.container columns are hidden: the pod's names say it.
func k8sHooks(node string, pods *Pods) runtime.Hooks {
	return runtime.Hooks{
		Name: "kubernetes",
		Init: func(r *runtime.Run) error {
			nodeBytes := []byte(node)
			for _, ds := range r.DataSources() {
				if len(ds.Fields()) == 0 {
					continue
				}
				nf, err := field(ds, FieldNode, true)
				if err != nil {
					return err
				}
				src := containers.MntnsField(ds)
				if pods == nil || src == nil {
					ds.Subscribe(enrichPriority, func(_ *datasource.DataSource, d *datasource.Data) error {
						return nf.SetBytes(d, nodeBytes)
					})
					continue
				}
				for _, n := range []string{containers.FieldContainerName, "k8s.pod", "k8s.container"} {
					if f := ds.Field(n); f != nil {
						f.Annotations["columns.hidden"] = "true"
					}
				}
				ns, err := field(ds, FieldNamespace, true)
				if err != nil {
					return err
				}
				pod, err := field(ds, FieldPodName, true)
				if err != nil {
					return err
				}
				cn, err := field(ds, FieldContainerName, true)
				if err != nil {
					return err
				}
				lb, err := field(ds, FieldPodLabels, false)
				if err != nil {
					return err
				}
				ds.Subscribe(enrichPriority, func(_ *datasource.DataSource, d *datasource.Data) error {
					_ = nf.SetBytes(d, nodeBytes)
					c := pods.Lookup(src.Uint(d))
					if c == nil {
						return nil
					}
					_ = ns.SetString(d, c.Namespace)
					_ = pod.SetString(d, c.Pod)
					_ = cn.SetString(d, c.Name)
					if c.LabelsText != "" {
						_ = lb.SetString(d, c.LabelsText)
					}
					return nil
				})
			}
			return nil
		},
	}
}

// field returns ds's string field name, added when missing, shown in tables or not.
func field(ds *datasource.DataSource, name string, shown bool) (*datasource.Field, error) {
	f := ds.Field(name)
	if f == nil {
		var err error
		if f, err = ds.AddField(name, datasource.KindString); err != nil {
			return nil, err
		}
		f.Tags = append(f.Tags, "kubernetes")
	}
	if shown {
		delete(f.Annotations, "columns.hidden")
		if f.Annotations["columns.width"] == "" {
			f.Annotations["columns.width"] = "16"
		}
	} else {
		f.Annotations["columns.hidden"] = "true"
	}
	return f, nil
}
