package format

import (
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Tri is the state a value of a tri-state field stands for.
type Tri int8

// Tri-states.
const (
	// Unknown: nothing could tell (JSON null).
	Unknown Tri = iota
	// No: false in JSON.
	No
	// Yes: true in JSON.
	Yes
)

// triWords are the enumerator names, after their common prefix and in any case, a tri-state
// enum may use.
var triWords = map[string]Tri{"YES": Yes, "TRUE": Yes, "NO": No, "FALSE": No, "UNKNOWN": Unknown}

// TriState returns the state each value of a tri-state field stands for, or nil when f is not
// one. A tri-state field is a C enum with exactly one "yes" enumerator (YES or TRUE), one "no"
// (NO or FALSE) and at most one UNKNOWN, and nothing else; the names may share a prefix ending
// in '_' (UL_YES, UL_NO, UL_UNKNOWN: C enumerators are global) and are matched in any case.
// Columns show the enumerator names; JSON and YAML show true, false, and null for unknown (and
// for a value the enum does not name).
func TriState(f *datasource.Field) map[int64]Tri {
	if f.Enum == nil || len(f.Enum) < 2 || len(f.Enum) > 3 {
		return nil
	}
	states := make(map[int64]Tri, len(f.Enum))
	seen := map[Tri]bool{}
	prefix, first := "", true
	for v, name := range f.Enum {
		i := strings.LastIndexByte(name, '_') + 1
		if first {
			prefix, first = name[:i], false
		} else if name[:i] != prefix {
			return nil
		}
		s, ok := triWords[strings.ToUpper(name[i:])]
		if !ok || seen[s] {
			return nil
		}
		seen[s] = true
		states[v] = s
	}
	if !seen[Yes] || !seen[No] {
		return nil
	}
	return states
}

// TriName returns the enumerator of tri-state field f (TriState) that stands for the JSON word
// w: "true", "false" or "null" (in any case), so that a filter can be written with the words
// JSON shows.
func TriName(f *datasource.Field, w string) (string, bool) {
	var want Tri
	switch strings.ToLower(w) {
	case "true":
		want = Yes
	case "false":
		want = No
	case "null":
		want = Unknown
	default:
		return "", false
	}
	for v, s := range TriState(f) {
		if s == want {
			return f.Enum[v], true
		}
	}
	return "", false
}

// appendTri appends state s as a JSON value.
func appendTri(dst []byte, s Tri) []byte {
	switch s {
	case Yes:
		return append(dst, "true"...)
	case No:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}
