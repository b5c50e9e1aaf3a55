package runtime

import (
	"context"
	"fmt"

	"github.com/gadgetry/gadgetry/oci"
)

// PullPolicy says when a reference is fetched from its registry.
type PullPolicy string

// Pull policies.
const (
	PullAlways  PullPolicy = "always"
	PullMissing PullPolicy = "missing"
	PullNever   PullPolicy = "never"
)

// ParsePullPolicy checks a --pull value.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case PullAlways, PullMissing, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("--pull %q: use always, missing or never", s)
}

// Source turns a reference into the blobs of one architecture's manifest. The built-in
// catalogue, the local store and registries each implement it (see oci.Resolver).
type Source interface {
	Resolve(ctx context.Context, ref string, pull PullPolicy, arch string) (*oci.Gadget, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, ref string, pull PullPolicy, arch string) (*oci.Gadget, error)

// Resolve calls f.
func (f SourceFunc) Resolve(ctx context.Context, ref string, pull PullPolicy, arch string) (*oci.Gadget, error) {
	return f(ctx, ref, pull, arch)
}
