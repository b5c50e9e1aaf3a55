package filter_test

import (
	"testing"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// FuzzParse: any expression either fails to parse or gives a filter that can be applied.
func FuzzParse(f *testing.F) {
	ds := datasource.New("x", datasource.TypeSingle, 24)
	ds.AddStaticField("comm", datasource.KindCString, 0, 16)
	ds.AddStaticField("pid", datasource.KindInt32, 16, 4)
	e, _ := ds.AddStaticField("err", datasource.KindUint32, 20, 4)
	e.Type = "gadget_errno"
	fm := format.New()
	for _, s := range []string{"comm==bash", "pid>=1,pid<3", "err==ENOENT", "comm~^b.*", "pid!=", ",,", "comm~("} {
		f.Add(s, []byte("bash\x00"))
	}
	f.Fuzz(func(t *testing.T, expr string, raw []byte) {
		flt, err := filter.Parse(ds, expr, fm)
		if err != nil {
			return
		}
		d := ds.NewData()
		copy(d.Raw, raw)
		flt.Match(d)
	})
}
