// Guest wasmguest is the runtime's WASM test guest: it keeps only events whose comm is the
// "keep" param (dropping the rest), adds a field "seen", and disables no program.
package main

import (
	api "github.com/gadgetry/gadgetry/wasmapi"
)

func init() {
	api.OnInit(func() error {
		keep, err := api.GetParamValue("keep")
		if err != nil {
			return err
		}
		ds, err := api.GetDataSource("exec")
		if err != nil {
			return err
		}
		comm, err := ds.GetField("proc.comm")
		if err != nil {
			return err
		}
		seen, err := ds.AddField("seen", api.KindString)
		if err != nil {
			return err
		}
		return ds.Subscribe(func(_ api.DataSource, d api.Data) error {
			c, err := comm.String(d)
			if err != nil {
				return err
			}
			if c != keep {
				return api.ErrDrop
			}
			return seen.SetString(d, "by-wasm")
		}, 0)
	})
}

func main() {}
