// Guest bad misbehaves in the way the "mode" parameter says.
package main

import (
	"errors"
	"unsafe"

	api "github.com/gadgetry/gadgetry/wasmapi"
)

//go:wasmimport ig getDataSource
func rawGetDataSource(name uint64) uint32

//go:wasmimport ig fieldSet
func rawFieldSet(field, data, kind uint32, value uint64) uint32

var sink [][]byte

func init() {
	var mode string
	api.OnInit(func() error {
		var err error
		mode, err = api.GetParamValue("mode")
		if err != nil {
			return err
		}
		switch mode {
		case "fail":
			return errors.New("the gadget refuses to start: bad parameter x")
		case "trap":
			var m map[string]int
			m["x"] = 1 // nil map write: a Go panic, the guest exits
		case "oom":
			for {
				sink = append(sink, make([]byte, 16<<20))
			}
		case "badptr":
			// A pointer far outside memory, then a length that runs past its end.
			if rawGetDataSource(uint64(16)<<32|0xfffffff0) != 0 {
				return errors.New("bad pointer accepted")
			}
			s := "events"
			p := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
			if rawGetDataSource(uint64(1<<31)<<32|p) != 0 {
				return errors.New("bad length accepted")
			}
			ds, _ := api.GetDataSource("events")
			f, _ := ds.GetField("comm")
			if rawFieldSet(uint32(f), 0, 12, uint64(8)<<32|0xffffff00) == 0 {
				return errors.New("bad field set accepted")
			}
			api.Infof("result badptr=survived")
		case "badhandle":
			if _, err := api.Field(12345).Uint32(api.Data(777)); err == nil {
				return errors.New("bad handle accepted")
			}
			if err := api.DataSource(999).Subscribe(func(api.DataSource, api.Data) error { return nil }, 0); err == nil {
				return errors.New("bad ds handle accepted")
			}
			if err := api.ReleaseHandle(4242); err == nil {
				return errors.New("bad release accepted")
			}
			api.Infof("result badhandle=survived")
		case "loop", "cbtrap":
			ds, err := api.GetDataSource("events")
			if err != nil {
				return err
			}
			return ds.Subscribe(func(api.DataSource, api.Data) error {
				if mode == "cbtrap" {
					panic("callback exploded")
				}
				for {
				}
			}, 0)
		case "startloop":
			api.OnStart(func() error {
				for {
				}
			})
		}
		return nil
	})
}

func main() {}
