package main

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
)

func newImagePushCmd(f *imageFlags) *cobra.Command {
	return newImageCopyCmd(f, "push REF", "Copy an image of the local store to its registry", "pushed", (*oci.Registry).Push)
}

func newImagePullCmd(f *imageFlags) *cobra.Command {
	return newImageCopyCmd(f, "pull REF", "Copy an image from its registry into the local store", "pulled", (*oci.Registry).Pull)
}

// newImageCopyCmd is push or pull: one copy between the local store and REF's registry.
func newImageCopyCmd(f *imageFlags, use, short, done string,
	copyFn func(*oci.Registry, context.Context, *oci.Store, string) (ocispec.Descriptor, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.openStore()
			if err != nil {
				return err
			}
			r, err := f.parseRef(args[0])
			if err != nil {
				return err
			}
			d, err := copyFn(f.registry(), cmd.Context(), s, r.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", done, r, d.Digest)
			return nil
		},
	}
}
