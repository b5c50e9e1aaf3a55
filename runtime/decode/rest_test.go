package decode

import (
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// TestRest: the trailing-data field takes what follows the struct, cut to the length field;
// annotations naming what cannot be used are errors.
func TestRest(t *testing.T) {
	mk := func(ann map[string]string) (*datasource.DataSource, *Rest, error) {
		ds := datasource.New("ev", datasource.TypeSingle, 8)
		if _, err := ds.AddStaticField("pid", datasource.KindUint32, 0, 4); err != nil {
			t.Fatal(err)
		}
		if _, err := ds.AddStaticField("len", datasource.KindUint32, 4, 4); err != nil {
			t.Fatal(err)
		}
		for k, v := range ann {
			ds.Annotations[k] = v
		}
		r, err := AddRest(ds)
		return ds, r, err
	}
	raw := []byte{1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}
	for _, c := range []struct {
		ann  map[string]string
		want string
	}{
		{map[string]string{RestName: "data"}, "abcde"},
		{map[string]string{RestName: "data", RestLen: "len"}, "abc"},
	} {
		ds, r, err := mk(c.ann)
		if err != nil {
			t.Fatal(err)
		}
		if RestOf(ds) == nil {
			t.Fatal("RestOf: nil after AddRest")
		}
		d := ds.NewData()
		copy(d.Raw, raw)
		r.Fill(d, raw)
		if got := string(ds.Field("data").Bytes(d)); got != c.want {
			t.Errorf("%v: %q, want %q", c.ann, got, c.want)
		}
		// A record without trailing bytes: an empty field.
		d = ds.NewData()
		copy(d.Raw, raw[:8])
		r.Fill(d, raw[:8])
		if got := ds.Field("data").Bytes(d); len(got) != 0 {
			t.Errorf("%v: no trailing bytes gave %q", c.ann, got)
		}
	}
	if _, r, err := mk(nil); r != nil || err != nil {
		t.Errorf("no annotation: %v, %v", r, err)
	}
	for ann, want := range map[string]map[string]string{
		"which is a field of the record's struct": {RestName: "pid"},
		"not a number field":                      {RestName: "data", RestLen: "nope"},
	} {
		if _, _, err := mk(want); err == nil || !strings.Contains(err.Error(), ann) {
			t.Errorf("%v: %v, want an error with %q", want, err, ann)
		}
	}
}
