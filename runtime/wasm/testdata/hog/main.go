// Guest hog allocates memory (16 MiB at a time, kept alive) until it holds the "mib" param's
// number of MiB (default 1024): in gadgetInit when the "where" param is "init" (the default),
// in its first event callback when it is "callback" (subscribed to the data source named by
// the "ds" param, default "events"). It logs "result grew=<MiB>" when it got them all.
package main

import (
	"strconv"

	api "github.com/gadgetry/gadgetry/wasmapi"
)

var sink [][]byte

func param(key, def string) string {
	if v, err := api.GetParamValue(key); err == nil && v != "" {
		return v
	}
	return def
}

func grow(mib int) {
	for len(sink)*16 < mib {
		sink = append(sink, make([]byte, 16<<20))
	}
	api.Infof("result grew=%d", len(sink)*16)
}

func init() {
	api.OnInit(func() error {
		mib, err := strconv.Atoi(param("mib", "1024"))
		if err != nil {
			return err
		}
		if param("where", "init") == "init" {
			grow(mib)
			return nil
		}
		ds, err := api.GetDataSource(param("ds", "events"))
		if err != nil {
			return err
		}
		return ds.Subscribe(func(api.DataSource, api.Data) error {
			grow(mib)
			return nil
		}, 0)
	})
}

func main() {}
