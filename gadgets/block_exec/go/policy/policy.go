// Package policy turns block_exec's parameters into the policy its eBPF programs enforce: it
// parses and checks them (a policy that could never match, or that contradicts itself, is
// refused before anything is loaded) and encodes the rules as the kernel maps' keys and values.
//
// It is plain Go with no host calls, so its tests run natively (go test) while the module
// itself builds for wasip1 with Go or TinyGo.
package policy

import (
	"encoding/binary"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Limits of program.bpf.c; keep them in step.
const (
	KeySize     = 256  // KEY_SIZE: a rule's path or a glob's directory, NUL included
	GlobSize    = 128  // GLOB_SIZE: a glob's last component, NUL included
	GlobsPerDir = 16   // GLOBS_PER_DIR
	MaxPaths    = 4096 // bexec_paths max_entries
	MaxGlobDirs = 1024 // bexec_globs max_entries
)

// Reasons, names and actions as program.bpf.c numbers them in its events.
const (
	ReasonUpperLayer = 1
	ReasonDenied     = 2
	ReasonNotAllowed = 3

	WhichExepath = 1
	WhichFile    = 2
	WhichInterp  = 3

	ActionDenied     = 1
	ActionKilled     = 2
	ActionAudited    = 3
	ActionKillFailed = 4

	MechanismLSM  = 1
	MechanismKill = 2
)

// Params are the gadget's parameters as the user gave them.
type Params struct {
	DenyPaths      string // --deny-paths
	AllowPaths     string // --allow-paths
	DenyUpperLayer string // --deny-upper-layer
	Mode           string // --mode
	Host           string // --host
}

// Rule is one entry of --deny-paths or --allow-paths.
type Rule struct {
	// ID is the rule's number in the kernel's events: its position in the list, from 1.
	ID uint32
	// Text is the path as the user wrote it.
	Text string
	// Dir and Pattern split a glob ("/usr/bin/*sh": "/usr/bin", "*sh"); Pattern is empty for
	// a plain path.
	Dir, Pattern string
}

// Policy is what the kernel enforces.
type Policy struct {
	// Rules are the --deny-paths (or, with Allow, --allow-paths) entries, duplicates removed.
	Rules []Rule
	// Allow makes Rules an allowlist.
	Allow bool
	// DenyUpperLayer stops files of the overlayfs upper layer.
	DenyUpperLayer bool
	// Audit reports instead of stopping.
	Audit bool
	// Host enforces on every process (no container selection).
	Host bool
}

// Parse checks the parameters and builds the policy. Its errors name the parameter, the entry
// and what to write instead.
func Parse(p Params) (*Policy, error) {
	pol := &Policy{}
	var err error
	switch p.Mode {
	case "", "enforce":
	case "audit":
		pol.Audit = true
	default:
		return nil, fmt.Errorf("--mode=%s: want enforce (stop the exec) or audit (only report it)", p.Mode)
	}
	if pol.DenyUpperLayer, err = parseBool("deny-upper-layer", p.DenyUpperLayer); err != nil {
		return nil, err
	}
	if pol.Host, err = parseBool("host", p.Host); err != nil {
		return nil, err
	}
	deny, allow := strings.TrimSpace(p.DenyPaths), strings.TrimSpace(p.AllowPaths)
	switch {
	case deny != "" && allow != "":
		return nil, fmt.Errorf("--deny-paths and --allow-paths exclude each other: an allowlist already stops everything it does not list; keep one of them")
	case allow != "":
		pol.Allow = true
		pol.Rules, err = ParseList("allow-paths", p.AllowPaths)
	case deny != "":
		pol.Rules, err = ParseList("deny-paths", p.DenyPaths)
	case !pol.DenyUpperLayer:
		return nil, fmt.Errorf("nothing to enforce: give --deny-paths, --allow-paths or --deny-upper-layer")
	}
	if err != nil {
		return nil, err
	}
	return pol, nil
}

func parseBool(flag, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("--%s=%s: want true or false", flag, s)
	}
	return v, nil
}

// ParseList parses a comma-separated list of absolute paths, the last component of which may
// hold * globs. Spaces around entries are ignored; duplicates collapse.
func ParseList(flag, value string) ([]Rule, error) {
	var rules []Rule
	seen := map[string]bool{}
	globsIn := map[string]int{}
	paths := 0
	for i, entry := range strings.Split(value, ",") {
		p := strings.TrimSpace(entry)
		bad := func(why string) error {
			return fmt.Errorf("--%s: entry %d %q %s", flag, i+1, p, why)
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("--%s=%s: entry %d is empty; remove the extra comma", flag, value, i+1)
		case !strings.HasPrefix(p, "/"):
			return nil, bad(fmt.Sprintf("is not an absolute path, so no executable's path can match it; write the whole path, such as /usr/bin/%s (trace_exec shows the path of what runs as exepath)", path.Base(p)))
		case p == "/":
			return nil, bad("names the root directory, not a file")
		case strings.ContainsRune(p, 0):
			return nil, bad("holds a NUL byte, which no path can")
		case path.Clean(p) != p:
			return nil, bad(fmt.Sprintf("is not in canonical form, so it cannot match the canonical path of an executable; write %s", path.Clean(p)))
		}
		dir, last := path.Split(p)
		dir = path.Clean(dir)
		if strings.Contains(dir, "*") {
			return nil, bad("has a * before its last component; a glob may only be in the last component (/usr/bin/*sh)")
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		r := Rule{ID: uint32(len(rules) + 1), Text: p}
		if strings.Contains(last, "*") {
			if len(dir) >= KeySize {
				return nil, bad(fmt.Sprintf("has a directory of %d bytes; at most %d fit", len(dir), KeySize-1))
			}
			if len(last) >= GlobSize {
				return nil, bad(fmt.Sprintf("has a glob of %d bytes; at most %d fit", len(last), GlobSize-1))
			}
			if globsIn[dir]++; globsIn[dir] > GlobsPerDir {
				return nil, bad(fmt.Sprintf("is glob number %d in %s; at most %d globs per directory fit", globsIn[dir], dir, GlobsPerDir))
			}
			if len(globsIn) > MaxGlobDirs {
				return nil, bad(fmt.Sprintf("brings globs to %d directories; at most %d fit", len(globsIn), MaxGlobDirs))
			}
			r.Dir, r.Pattern = dir, last
		} else {
			if len(p) >= KeySize {
				return nil, bad(fmt.Sprintf("is %d bytes long; at most %d fit", len(p), KeySize-1))
			}
			if paths++; paths > MaxPaths {
				return nil, bad(fmt.Sprintf("is path number %d; at most %d fit", paths, MaxPaths))
			}
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// Rule returns the rule with id, or nil.
func (p *Policy) Rule(id uint32) *Rule {
	if id == 0 || int(id) > len(p.Rules) {
		return nil
	}
	return &p.Rules[id-1]
}

// Entry is one key and value of a kernel map.
type Entry struct{ Key, Value []byte }

// PathEntries are bexec_paths' entries: the zero-padded path → the rule's id.
func (p *Policy) PathEntries() []Entry {
	var out []Entry
	for _, r := range p.Rules {
		if r.Pattern == "" {
			out = append(out, Entry{key(r.Text), binary.LittleEndian.AppendUint32(nil, r.ID)})
		}
	}
	return out
}

// GlobEntries are bexec_globs' entries: the zero-padded directory → struct glob_set {u32 count;
// u32 pad; struct glob {u32 rule; u32 len; char pattern[GlobSize]} globs[GlobsPerDir]}.
func (p *Policy) GlobEntries() []Entry {
	var dirs []string
	sets := map[string][]byte{}
	for _, r := range p.Rules {
		if r.Pattern == "" {
			continue
		}
		set, ok := sets[r.Dir]
		if !ok {
			dirs = append(dirs, r.Dir)
			set = make([]byte, 8+GlobsPerDir*(8+GlobSize))
		}
		n := binary.LittleEndian.Uint32(set)
		g := set[8+int(n)*(8+GlobSize):]
		binary.LittleEndian.PutUint32(g, r.ID)
		binary.LittleEndian.PutUint32(g[4:], uint32(len(r.Pattern)))
		copy(g[8:8+GlobSize], r.Pattern)
		binary.LittleEndian.PutUint32(set, n+1)
		sets[r.Dir] = set
	}
	out := make([]Entry, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, Entry{key(d), sets[d]})
	}
	return out
}

// PolicyValue is the value of the bexec_policy map's one entry, struct policy {enabled, allow,
// deny_upper, audit}: written last, it turns enforcement on.
func (p *Policy) PolicyValue() []byte {
	b := func(v bool) byte {
		if v {
			return 1
		}
		return 0
	}
	return []byte{1, b(p.Allow), b(p.DenyUpperLayer), b(p.Audit)}
}

func key(s string) []byte {
	k := make([]byte, KeySize)
	copy(k, s)
	return k
}

// Describe says what a decision's event means, for its rule, matched, action and mechanism
// fields.
func (p *Policy) Describe(reason, which uint8, rule uint32) (ruleText, matched string) {
	switch reason {
	case ReasonUpperLayer:
		ruleText = "deny-upper-layer"
	case ReasonDenied:
		if r := p.Rule(rule); r != nil {
			ruleText = "deny-paths=" + r.Text
		} else {
			ruleText = "deny-paths"
		}
	case ReasonNotAllowed:
		ruleText = "allow-paths"
	}
	switch which {
	case WhichExepath:
		matched = "exepath"
	case WhichFile:
		matched = "file"
	case WhichInterp:
		matched = "interp"
	}
	return ruleText, matched
}

// ActionName is the action field's text.
func ActionName(a uint8) string {
	switch a {
	case ActionDenied:
		return "denied"
	case ActionKilled:
		return "killed"
	case ActionAudited:
		return "audited"
	case ActionKillFailed:
		return "kill_failed"
	}
	return ""
}

// MechanismName is the mechanism field's text.
func MechanismName(m uint8) string {
	switch m {
	case MechanismLSM:
		return "lsm"
	case MechanismKill:
		return "kill"
	}
	return ""
}

// Scope checks the selection: enforcement needs containers selected (-c, --containers-only),
// or --host and none selected.
func (p *Policy) Scope(containersSelected bool) error {
	switch {
	case p.Host && containersSelected:
		return fmt.Errorf("--host enforces on every process of the machine; it cannot be combined with -c or --containers-only: drop one of them")
	case !p.Host && !containersSelected:
		return fmt.Errorf("no containers selected: this policy would apply to every process of the machine, the host's own shells included; select containers with -c NAME or --containers-only, or pass --host to enforce on the whole machine")
	}
	return nil
}
