package runtime

import (
	"fmt"
	"sort"
	"strings"
)

// igParamPrefixes are the namespaces Inspektor Gadget gives a gadget's own parameters in
// gadget.yaml's paramDefaults ("operator.oci.ebpf.map-fetch-interval"): the part after one of
// them is the parameter's key here.
var igParamPrefixes = []string{"operator.oci.ebpf.", "operator.ebpf.", "operator.oci.wasm.", "operator.wasm.", "operator.oci."}

// applyParamDefaults sets the defaults gadget.yaml's paramDefaults gives the gadget's
// parameters. Keys are matched without regard to case, as IG does. A key naming a parameter of
// another IG operator, which Gadgetry does not have, is left alone; a value the parameter
// cannot take is an error.
func (g *Gadget) applyParamDefaults() error {
	keys := make([]string, 0, len(g.Meta.ParamDefaults))
	for k := range g.Meta.ParamDefaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, full := range keys {
		value := g.Meta.ParamDefaults[full]
		lower := strings.ToLower(full)
		for _, prefix := range igParamPrefixes {
			rest, ok := strings.CutPrefix(lower, prefix)
			if !ok {
				continue
			}
			var p *Param
			for _, q := range g.Params {
				if strings.ToLower(q.Key) == rest {
					p = q
				}
			}
			if p == nil {
				continue
			}
			if err := g.Validate(p.Key, value); err != nil {
				return fmt.Errorf("gadget %s: gadget.yaml paramDefaults.%s: %w", g.Name, full, err)
			}
			p.Default = value
			break
		}
	}
	return nil
}
