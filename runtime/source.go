package runtime

import (
	"context"

	"github.com/gadgetry/gadgetry/oci"
)

// Source turns a reference into the blobs of one architecture's manifest. *oci.Resolver (the
// built-in catalogue, then the local store, then the registry) is the usual one.
type Source interface {
	Resolve(ctx context.Context, ref string, pull oci.PullPolicy, arch string) (*oci.Gadget, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, ref string, pull oci.PullPolicy, arch string) (*oci.Gadget, error)

// Resolve calls f.
func (f SourceFunc) Resolve(ctx context.Context, ref string, pull oci.PullPolicy, arch string) (*oci.Gadget, error) {
	return f(ctx, ref, pull, arch)
}
