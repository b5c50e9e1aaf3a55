package daemon

import (
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// The fields a daemon fills in every record (Inspektor Gadget's names, as the container
// cache's enrichment adds them: containers.EnrichmentField).
const (
	FieldNode          = containers.FieldK8sNode
	FieldNamespace     = containers.FieldK8sNamespace
	FieldPodName       = containers.FieldK8sPodName
	FieldContainerName = containers.FieldK8sContainerName
	FieldPodLabels     = containers.FieldK8sPodLabels
)

// enrichPriority runs after the container cache's enrichment (containers.EnrichPriority), so
// the pod's values win where both set a field, and before WASM guests and output.
const enrichPriority = containers.EnrichPriority + 1

// k8sHooks sets k8s.node (the daemon's node name) in every data source's records (adding the
// field where the container enrichment did not) and, with pods (a Kubernetes node), the pod's
// namespace, name, container name and labels in the records of data sources with a mount
// namespace field. Tables show node, namespace, pod and container; the labels are in JSON and
// a --fields +k8s.podLabels away; the runtime's container name (runtime.containerName) is
// hidden from tables: the pod's names say it.
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
				if f := ds.Field(containers.FieldContainerName); f != nil {
					f.Annotations["columns.hidden"] = "true"
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

// field returns ds's enrichment field name, added when missing, shown in tables or not.
func field(ds *datasource.DataSource, name string, shown bool) (*datasource.Field, error) {
	f, err := containers.EnrichmentField(ds, name)
	if err != nil {
		return nil, err
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
