package filter

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Resolver resolves syscall names on the running kernel's architecture. Inside the gadget the
// two functions call the host (getSyscallID, getSyscallName): numbers are never hard-coded in the
// guest.
type Resolver struct {
	// Lookup returns the number of a syscall on this kernel's architecture, false if unknown.
	Lookup func(name string) (uint32, bool)
	// Names returns every syscall name of this architecture. It is called only to suggest
	// alternatives for an unknown name.
	Names func() []string
}

// Resolve returns the numbers of names, in the same order. Each unknown name is reported (all of
// them, not only the first) with the closest real names, or with the architectures where it
// does exist; the error wraps ErrUnknownSyscall.
func (r Resolver) Resolve(names []string) ([]uint32, error) {
	nrs := make([]uint32, 0, len(names))
	var errs []error
	var all []string
	for _, name := range names {
		if nr, ok := r.Lookup(name); ok {
			nrs = append(nrs, nr)
			continue
		}
		if all == nil && r.Names != nil {
			all = r.Names()
		}
		errs = append(errs, unknown(name, all))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nrs, nil
}

// ErrUnknownSyscall is wrapped by the errors of Resolve for names this architecture lacks.
var ErrUnknownSyscall = errors.New("unknown syscall")

func unknown(name string, all []string) error {
	var elsewhere []string
	for arch, list := range archSyscalls {
		if i := sort.SearchStrings(list, name); i < len(list) && list[i] == name {
			elsewhere = append(elsewhere, arch)
		}
	}
	sort.Strings(elsewhere)
	msg := fmt.Sprintf("syscall-filters: %q: %v on this kernel's architecture", name, ErrUnknownSyscall)
	if len(elsewhere) > 0 {
		msg += fmt.Sprintf(" (it exists on %s)", strings.Join(elsewhere, " and "))
	}
	if s := Suggest(name, all, 3); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, ", ") + "?"
	}
	return &unknownError{msg: msg}
}

type unknownError struct{ msg string }

func (e *unknownError) Error() string { return e.msg }
func (e *unknownError) Unwrap() error { return ErrUnknownSyscall }

// Suggest returns up to max names of candidates close to name, closest first: those within an
// edit distance (insertions, deletions, substitutions and swaps of adjacent letters) of a third
// of the name's length (at least 2), and those that start with name (open → openat); at equal
// distance a name that starts with name comes first.
func Suggest(name string, candidates []string, max int) []string {
	type scored struct {
		name   string
		d      int
		prefix bool
	}
	limit := len(name) / 3
	if limit < 2 {
		limit = 2
	}
	var found []scored
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := Distance(name, c)
		prefix := len(name) >= 3 && strings.HasPrefix(c, name)
		if d > limit && !prefix {
			continue
		}
		found = append(found, scored{c, d, prefix})
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		if found[i].prefix != found[j].prefix {
			return found[i].prefix
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < max; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// Distance is the optimal string alignment distance between a and b: the number of single-byte
// insertions, deletions, substitutions and transpositions of adjacent bytes that turn a into b.
func Distance(a, b string) int {
	// Three rows of the dynamic-programming table: i-2, i-1, i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
