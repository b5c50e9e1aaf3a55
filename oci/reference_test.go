package oci

import (
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"trace_open", "ghcr.io/inspektor-gadget/gadget/trace_open:latest"},
		{"trace_open:v1", "ghcr.io/inspektor-gadget/gadget/trace_open:v1"},
		{"trace_open@" + testDigest, "ghcr.io/inspektor-gadget/gadget/trace_open@" + testDigest},
		{"myorg/thing", "ghcr.io/myorg/thing:latest"}, // IG's default domain, not Docker Hub
		{"localhost/thing:1", "localhost/thing:1"},
		{"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"},
		{"127.0.0.1:5000/a/b:t@" + testDigest, "127.0.0.1:5000/a/b:t@" + testDigest},
		{"ghcr.io/org/name:tag", "ghcr.io/org/name:tag"},
		{"my.registry:443/x", "my.registry:443/x:latest"},
	} {
		r, err := ParseReference(tc.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tc.in, err)
			continue
		}
		if r.String() != tc.want {
			t.Errorf("ParseReference(%q) = %q, want %q", tc.in, r, tc.want)
		}
	}
	r, _ := ParseReference("trace_exec")
	if !r.Bare || r.Name != "trace_exec" || r.Object() != "latest" {
		t.Errorf("bare name: %+v", r)
	}
	r, _ = ParseReferenceWithPrefix("x", "localhost:5000/g")
	if r.String() != "localhost:5000/g/x:latest" {
		t.Errorf("custom prefix: %s", r)
	}
	// A path without a registry is at the prefix's registry.
	r, _ = ParseReferenceWithPrefix("org/x", "localhost:5000/g")
	if r.String() != "localhost:5000/org/x:latest" {
		t.Errorf("custom prefix, org/x: %s", r)
	}
}

func TestParseReferenceErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"Trace", "lowercase"},
		{"a/B", "path component"},
		{"a:b:c", "lowercase"},
		{"a@sha256:12", "digest"},
		{"ghcr.io/", "path component"},
		{":tag", "no repository"},
		{"bad_host!.io/x", "registry"},
		// Short enough as typed, too long once the default prefix is added.
		{strings.Repeat("a", 230), "262 characters once normalized (ghcr.io/...)"},
		{"org/" + strings.Repeat("a", 250), "262 characters once normalized (ghcr.io/...)"},
		{strings.Repeat("a", 1025), "longer than 1024"},
	} {
		_, err := ParseReference(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseReference(%q) error = %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"trace_open", "a/b:c", "127.0.0.1:5000/a/b:t@" + testDigest, "localhost/x", "::", "a@b",
		// Found by fuzzing in CI: under the input limit, over it once normalized.
		strings.Repeat("0", 500),
		"x.io/" + strings.Repeat("a", 250) + ":" + strings.Repeat("t", 128) + "@sha512:" + strings.Repeat("f", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		// A normalized reference parses to itself.
		r2, err := ParseReference(r.String())
		if err != nil {
			t.Fatalf("normalized %q of %q does not parse: %v", r, s, err)
		}
		if r2.String() != r.String() {
			t.Fatalf("not idempotent: %q → %q → %q", s, r, r2)
		}
		if r.Tag == "" && r.Digest == "" {
			t.Fatalf("%q: neither tag nor digest", s)
		}
	})
}
