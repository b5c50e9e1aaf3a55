package containers

import (
	"fmt"
	"strings"
)

// Selector chooses containers by name, as -c/--containername does: "a,b" selects containers a
// and b, "!c" every container but c, "a,!c" a only. A name matches a container's Name, its
// Kubernetes container name, its ID, or a prefix of at least 12 hex digits of a 64-hex ID.
//
// A selector never selects the host: when Filters reports true, host events are dropped.
type Selector struct {
	// Include lists names to select; empty means every container.
	Include []string
	// Exclude lists names never selected.
	Exclude []string
	// ContainersOnly drops host events even when no name is given (--containers-only).
	ContainersOnly bool
}

// ParseSelector parses a comma-separated list of names, each optionally prefixed by "!".
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimSpace(strings.TrimPrefix(p, "!"))
		if p == "" {
			return Selector{}, fmt.Errorf("container selector %q: empty name in the list (use \"a,b\" or \"!c\")", s)
		}
		if neg {
			sel.Exclude = append(sel.Exclude, p)
		} else {
			sel.Include = append(sel.Include, p)
		}
	}
	return sel, nil
}

// Filters reports whether the selector restricts events at all. When false, every process,
// host included, is traced and no filter map is needed.
func (s Selector) Filters() bool {
	return s.ContainersOnly || len(s.Include) > 0 || len(s.Exclude) > 0
}

// Match reports whether container c is selected. A nil c (the host) never matches.
func (s Selector) Match(c *Container) bool {
	if c == nil {
		return false
	}
	for _, n := range s.Exclude {
		if matchName(c, n) {
			return false
		}
	}
	if len(s.Include) == 0 {
		return true
	}
	for _, n := range s.Include {
		if matchName(c, n) {
			return true
		}
	}
	return false
}

func matchName(c *Container, n string) bool {
	if c.Name == n || c.ID == n || (c.K8s.Container != "" && c.K8s.Container == n) {
		return true
	}
	// A short id, as engines print it (docker ps: 12 hex digits).
	return len(n) >= 12 && len(c.ID) == 64 && strings.HasPrefix(c.ID, n) && isHex(n)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// String returns the selector in ParseSelector's syntax.
func (s Selector) String() string {
	parts := append([]string{}, s.Include...)
	for _, e := range s.Exclude {
		parts = append(parts, "!"+e)
	}
	return strings.Join(parts, ",")
}

// ShouldDiscard reports whether events of mount namespace mntns are outside sel: what the
// WASM host function shouldDiscardMntnsID answers. Host events are discarded only when
// sel.Filters().
func (c *Cache) ShouldDiscard(sel Selector, mntns uint64) bool {
	return sel.Filters() && !sel.Match(c.Lookup(mntns))
}
