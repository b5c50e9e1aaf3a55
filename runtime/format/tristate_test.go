package format_test

import (
	"testing"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
)

func enumField(names map[int64]string) *datasource.Field {
	return &datasource.Field{Name: "f", Kind: datasource.KindUint32, Enum: names}
}

// TestTriState: which enums are tri-state, and what each value stands for.
func TestTriState(t *testing.T) {
	for _, tc := range []struct {
		name string
		enum map[int64]string
		want map[int64]format.Tri // nil: not tri-state
	}{
		{"trace_exec's", map[int64]string{0: "UNKNOWN", 1: "NO", 2: "YES"},
			map[int64]format.Tri{0: format.Unknown, 1: format.No, 2: format.Yes}},
		{"two states", map[int64]string{0: "NO", 1: "YES"}, map[int64]format.Tri{0: format.No, 1: format.Yes}},
		{"prefixed, any case", map[int64]string{5: "ul_Yes", 6: "ul_no", 7: "ul_unknown"},
			map[int64]format.Tri{5: format.Yes, 6: format.No, 7: format.Unknown}},
		{"true and false", map[int64]string{-1: "X_UNKNOWN", 0: "X_FALSE", 1: "X_TRUE"},
			map[int64]format.Tri{-1: format.Unknown, 0: format.No, 1: format.Yes}},
		{"no NO", map[int64]string{0: "UNKNOWN", 2: "YES"}, nil},
		{"one more state", map[int64]string{0: "UNKNOWN", 1: "NO", 2: "YES", 3: "MAYBE"}, nil},
		{"another word", map[int64]string{0: "NONE", 1: "NO", 2: "YES"}, nil},
		{"two yes", map[int64]string{0: "TRUE", 1: "NO", 2: "YES"}, nil},
		{"prefixes differ", map[int64]string{0: "A_NO", 1: "B_YES"}, nil},
		{"not an enum", nil, nil},
	} {
		got := format.TriState(enumField(tc.enum))
		if len(got) != len(tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for v, s := range tc.want {
			if got[v] != s {
				t.Errorf("%s: value %d is %d, want %d", tc.name, v, got[v], s)
			}
		}
	}
	f := enumField(map[int64]string{0: "UL_UNKNOWN", 1: "UL_NO", 2: "UL_YES"})
	for w, want := range map[string]string{"true": "UL_YES", "FALSE": "UL_NO", "null": "UL_UNKNOWN"} {
		if got, ok := format.TriName(f, w); !ok || got != want {
			t.Errorf("TriName(%s) = %q, %v; want %s", w, got, ok, want)
		}
	}
	if _, ok := format.TriName(f, "YES"); ok {
		t.Error("TriName took an enumerator for a JSON word")
	}
	if _, ok := format.TriName(enumField(map[int64]string{0: "NO", 1: "YES"}), "null"); ok {
		t.Error("TriName found null in an enum without UNKNOWN")
	}
}
