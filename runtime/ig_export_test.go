package runtime

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// LoadSpecForTest is what a run loads: a copy of g's spec with the eBPF parameters of params
// (by key, defaults for the others) written into it, and the load options, after the load-time
// conventions of ig_load.go (map sizes, pin path).
func LoadSpecForTest(g *Gadget, params map[string]string) (*ebpf.CollectionSpec, ebpf.CollectionOptions, error) {
	spec := g.spec.Copy()
	for _, p := range g.Params {
		if p.Source != ParamEBPF {
			continue
		}
		v, ok := params[p.Key]
		if !ok {
			v = p.Default
		}
		b, err := p.encode(v)
		if err != nil {
			return nil, ebpf.CollectionOptions{}, fmt.Errorf("--%s: %w", p.Key, err)
		}
		copy(spec.Variables[p.Variable].Value, b)
	}
	var opts ebpf.CollectionOptions
	err := g.prepareLoad(spec, &opts)
	return spec, opts, err
}
