// Package catalogue is Gadgetry's built-in gadgets: an OCI image layout (oci-layout,
// index.json, blobs/) embedded in the gadgetry binary, each image tagged with its bare name
// ("trace_exec"). The layout is generated from gadgets/*/ by scripts/build-gadgets.sh
// (`make gadgets`); `make check-generated` fails when it is out of date with its sources.
// Do not edit the layout by hand.
package catalogue

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"oras.land/oras-go/v2/content/oci"
)

// The pattern is "*" because an empty catalogue has no blobs directory for a narrower one to
// match; the package's own .go files are embedded too and are ignored by the layout reader.
//
//go:embed *
var files embed.FS

// FS returns the layout as a read-only file system (index.json, oci-layout, blobs/sha256/…).
func FS() fs.FS { return files }

// Open returns the catalogue as a read-only OCI store. Resolve takes a bare gadget name
// ("trace_exec"); Tags lists the names.
func Open(ctx context.Context) (*oci.ReadOnlyStore, error) {
	s, err := oci.NewFromFS(ctx, files)
	if err != nil {
		return nil, fmt.Errorf("opening the built-in gadget catalogue: %w (rebuild it with `make gadgets`)", err)
	}
	return s, nil
}
