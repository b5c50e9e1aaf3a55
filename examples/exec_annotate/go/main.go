// Command exec_annotate is the WASM module of the exec_annotate gadget: it adds the field
// "lineage" (parent command > command) to every exec event and drops the events of the
// commands listed in the ignore-comm parameter.
package main

import (
	"strings"

	"github.com/gadgetry/gadgetry/wasmapi"
)

type gadget struct {
	comm, parentComm, lineage wasmapi.Field
	ignore                    map[string]bool
	buf                       []byte
}

func (g *gadget) Init() error {
	ds, err := wasmapi.GetDataSource("exec")
	if err != nil {
		return err
	}
	if g.comm, err = ds.GetField("proc.comm"); err != nil {
		return err
	}
	if g.parentComm, err = ds.GetField("proc.parent.comm"); err != nil {
		return err
	}
	if g.lineage, err = ds.AddField("lineage", wasmapi.KindString); err != nil {
		return err
	}
	list, err := wasmapi.GetParamValue("ignore-comm")
	if err != nil {
		return err
	}
	g.ignore = map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c != "" {
			g.ignore[c] = true
		}
	}
	return ds.Subscribe(g.event, 0)
}

func (g *gadget) event(ds wasmapi.DataSource, d wasmapi.Data) error {
	comm, err := g.comm.String(d)
	if err != nil {
		return err
	}
	if g.ignore[comm] {
		return wasmapi.ErrDrop
	}
	parent, err := g.parentComm.String(d)
	if err != nil {
		return err
	}
	return g.lineage.SetString(d, parent+" > "+comm)
}

func init() { wasmapi.Register(&gadget{}) }

func main() {}
