// Guest flood subscribes to data source "flood" and, per the "mode" param, handles each event
// at once (fast), burns 2 ms of wall-clock time on it (slow), or never returns from its first
// event (loop, after warning "looping").
package main

import (
	"errors"
	"time"

	api "github.com/gadgetry/gadgetry/wasmapi"
)

var (
	n    api.Field
	sum  uint64
	spin uint64
)

func init() {
	api.OnInit(func() error {
		mode, err := api.GetParamValue("mode")
		if err != nil {
			return err
		}
		ds, err := api.GetDataSource("flood")
		if err != nil {
			return err
		}
		if n, err = ds.GetField("n"); err != nil {
			return err
		}
		var fn func(api.DataSource, api.Data) error
		switch mode {
		case "fast":
			fn = func(_ api.DataSource, d api.Data) error {
				v, _ := n.Uint64(d)
				sum += v
				return nil
			}
		case "slow":
			fn = func(api.DataSource, api.Data) error {
				for end := time.Now().Add(2 * time.Millisecond); time.Now().Before(end); {
					spin++
				}
				return nil
			}
		case "loop":
			fn = func(api.DataSource, api.Data) error {
				api.Warnf("looping")
				for {
					spin++
				}
			}
		default:
			return errors.New("mode " + mode + ": want fast, slow or loop")
		}
		return ds.Subscribe(fn, 0)
	})
}

func main() {}
