package oci

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultPrefix is where a bare gadget name ("trace_open") is looked up when it is not in the
// built-in catalogue or the local store.
const DefaultPrefix = "ghcr.io/inspektor-gadget/gadget"

// DefaultTag is the tag a reference without tag or digest gets.
const DefaultTag = "latest"

// maxNameLength bounds registry/repository, as the distribution specification does.
const maxNameLength = 255

// maxReferenceLength bounds the input: a name of maxNameLength with the longest tag (128) and
// digest (sha512) fits.
const maxReferenceLength = 1024

// defaultRegistry is the registry of a reference whose first path component is not a registry
// name, when no default prefix says another: Inspektor Gadget's default domain.
const defaultRegistry = "ghcr.io"

// Reference is a parsed, normalized image reference: Registry/Repository[:Tag][@Digest].
type Reference struct {
	// Registry is host[:port] ("ghcr.io", "127.0.0.1:5000").
	Registry string
	// Repository is the path inside the registry ("inspektor-gadget/gadget/trace_open").
	Repository string
	// Tag is the tag; empty only when Digest is set.
	Tag string
	// Digest is "sha256:<hex>" when the reference pins one.
	Digest string
	// Bare is true when the input was a single name ("trace_open") that got the default
	// prefix: such names are also looked up in the built-in catalogue.
	Bare bool
	// Name is the input's bare name when Bare is set.
	Name string
}

// nameRule says what pathComponentRE accepts.
const nameRule = "lowercase letters and digits separated by '.', '_', '__' or '-'"

var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	hostRE          = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$`)
	digestRE        = regexp.MustCompile(`^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$`)
)

// ParseReference parses and normalizes an image reference with DefaultPrefix.
func ParseReference(s string) (Reference, error) {
	return ParseReferenceWithPrefix(s, DefaultPrefix)
}

// ParseReferenceWithPrefix parses and normalizes an image reference. The rules are Inspektor
// Gadget's: the first path component is a registry only if it contains "." or ":" or is
// "localhost"; a single name gets prefix ("trace_open" → "<prefix>/trace_open"); other paths
// without a registry are at the prefix's registry ("org/x" → "ghcr.io/org/x" with the default
// prefix; not Docker Hub); a missing tag means "latest" unless a digest is given.
func ParseReferenceWithPrefix(s, prefix string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("invalid image reference %q: %s", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	// A cheap bound before any parsing; the real limit is on the normalized name below, which
	// with the longest tag and digest stays under this one, so a normalized reference always
	// parses again.
	if len(s) > maxReferenceLength {
		return bad(fmt.Sprintf("longer than %d characters", maxReferenceLength))
	}
	var r Reference
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if !digestRE.MatchString(r.Digest) {
			return bad("digest must be sha256:<64 hex digits> (or sha512:<128>)")
		}
	}
	// A tag is after the last ":" that follows the last "/" (a ":" before it is a port).
	if i := strings.LastIndex(rest, ":"); i >= 0 && i > strings.LastIndex(rest, "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if r.Tag == "" {
			return bad("nothing after the ':' of the tag")
		}
		if !tagRE.MatchString(r.Tag) {
			return bad("tag must be letters, digits, '_', '.', '-' (at most 128, not starting with '.' or '-')")
		}
	}
	if rest == "" {
		return bad("no repository name")
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1:
		if prefix == "" {
			return bad("a bare name needs a default registry prefix")
		}
		r.Bare = true
		r.Name = parts[0]
		if !pathComponentRE.MatchString(parts[0]) {
			if parts[0] == s { // the whole input: do not quote it twice
				return bad("a name must be " + nameRule)
			}
			return bad(fmt.Sprintf("name %q must be %s", parts[0], nameRule))
		}
		pr, err := parsePrefix(prefix)
		if err != nil {
			return bad(err.Error())
		}
		r.Registry, r.Repository = pr.Registry, strings.TrimSuffix(pr.Repository, "x")+parts[0]
	case strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost":
		r.Registry = parts[0]
		r.Repository = strings.Join(parts[1:], "/")
	default:
		// IG's rule: a path without a registry is at the default registry, ghcr.io (here the
		// default prefix's registry, which is ghcr.io unless configured).
		r.Registry = defaultRegistry
		if prefix != "" {
			pr, err := parsePrefix(prefix)
			if err != nil {
				return bad(err.Error())
			}
			r.Registry = pr.Registry
		}
		r.Repository = rest
	}
	if !hostRE.MatchString(r.Registry) {
		return bad(fmt.Sprintf("registry %q is not host[:port]", r.Registry))
	}
	for _, c := range strings.Split(r.Repository, "/") {
		if !pathComponentRE.MatchString(c) {
			return bad(fmt.Sprintf("path component %q must be %s", c, nameRule))
		}
	}
	// The limit holds for the name as normalized, not as typed: "trace_open" grows by the
	// default prefix, "org/x" by the prefix's registry.
	if n := len(r.RepositoryName()); n > maxNameLength {
		return bad(fmt.Sprintf("the name is %d characters once normalized (%s/...); registries accept at most %d", n, r.Registry, maxNameLength))
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

// parsePrefix parses a default prefix ("ghcr.io/inspektor-gadget/gadget") as the reference of
// a one-letter name under it, "<prefix>/x:x": the real name's length is checked with the rest
// of the reference.
func parsePrefix(prefix string) (Reference, error) {
	pr, err := ParseReferenceWithPrefix(prefix+"/x:x", "")
	if err != nil {
		return Reference{}, fmt.Errorf("default prefix %q: %v", prefix, err)
	}
	return pr, nil
}

// String returns the normalized reference: registry/repository[:tag][@digest].
func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// RepositoryName returns registry/repository, without tag or digest.
func (r Reference) RepositoryName() string {
	return r.Registry + "/" + r.Repository
}

// Object returns what names the object inside its repository: the digest when the reference
// pins one, else the tag.
func (r Reference) Object() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}
