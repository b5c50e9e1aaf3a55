package containers

import (
	"slices"
	"testing"
)

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in            string
		include, excl []string
		filters, bad  bool
	}{
		{"", nil, nil, false, false},
		{"a", []string{"a"}, nil, true, false},
		{"a, b", []string{"a", "b"}, nil, true, false},
		{"!c", nil, []string{"c"}, true, false},
		{"a,!c", []string{"a"}, []string{"c"}, true, false},
		{"a,,b", nil, nil, false, true},
		{"!", nil, nil, false, true},
	} {
		sel, err := ParseSelector(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if tc.bad {
			continue
		}
		if !slices.Equal(sel.Include, tc.include) || !slices.Equal(sel.Exclude, tc.excl) || sel.Filters() != tc.filters {
			t.Errorf("%q: %+v filters=%v", tc.in, sel, sel.Filters())
		}
		if sel.String() != "" && tc.in != "a, b" && sel.String() != tc.in {
			t.Errorf("%q: String() = %q", tc.in, sel.String())
		}
	}
}

func TestSelectorMatch(t *testing.T) {
	const id = "3f2c5b8e9a1d4c7b6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
	web := &Container{ID: id, Name: "web", K8s: K8s{Container: "nginx"}}
	db := &Container{ID: "db1", Name: "db"}
	for _, tc := range []struct {
		sel     string
		only    bool
		web, db bool
	}{
		{"web", false, true, false},
		{"nginx", false, true, false},
		{id[:12], false, true, false},
		{id[:8], false, false, false},
		{"!web", false, false, true},
		{"web,db,!db", false, true, false},
		{"", true, true, true},
	} {
		sel, _ := ParseSelector(tc.sel)
		sel.ContainersOnly = tc.only
		if sel.Match(web) != tc.web || sel.Match(db) != tc.db {
			t.Errorf("%q: web %v db %v", tc.sel, sel.Match(web), sel.Match(db))
		}
		if sel.Match(nil) {
			t.Errorf("%q matches the host", tc.sel)
		}
	}
}
