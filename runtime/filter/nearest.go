package filter

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Nearest returns the candidates closest to name, nearest first: those whose last dotted
// component is name ("comm" → proc.comm, proc.parent.comm), then those within a few edits of
// name or of their last component (a typo). all returns every candidate, nearest first, instead
// of only the near ones.
func Nearest(name string, candidates []string, all bool) []string {
	type scored struct {
		s    string
		dist int
	}
	var out []scored
	for _, c := range candidates {
		last := c[strings.LastIndexByte(c, '.')+1:]
		d := min(editDistance(name, c), editDistance(name, last)+1)
		if last == name {
			d = 0
		}
		out = append(out, scored{c, d})
	}
	slices.SortStableFunc(out, func(a, b scored) int { return cmp.Compare(a.dist, b.dist) })
	// Near: at most a third of the name's letters wrong, and at least one.
	limit := max(1, len(name)/3)
	var names []string
	for _, s := range out {
		if all || s.dist <= limit {
			names = append(names, s.s)
		}
	}
	return names
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// visibleFields returns the names of ds's fields a user can name (not hidden).
func visibleFields(ds *datasource.DataSource) []string {
	var names []string
	for _, f := range ds.Fields() {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	return names
}

// NoField says that ds has no field called name, suggesting the nearest field names, or
// listing every field when none is near.
func NoField(ds *datasource.DataSource, name string) string {
	fields := visibleFields(ds)
	if near := Nearest(name, fields, false); len(near) > 0 {
		return "data source " + ds.Name + " has no field " + strconv.Quote(name) + "; did you mean " + orList(near[:min(3, len(near))]) + "?"
	}
	return "data source " + ds.Name + " has no field " + strconv.Quote(name) + " (fields: " + strings.Join(fields, ", ") + ")"
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
