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
	var tf *trustFlags
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Copy an image and its signatures from its registry into the local store, verified",
		Long: `Copy an image from its registry into the local store, with its signatures (cosign's
sha256-<digest>.sig tag). With trusted keys (--public-keys, or publicKeys of the config file),
the image must carry a signature one of them verifies, or nothing is written to the store.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := tf.load()
			if err != nil {
				return err
			}
			s, r, err := f.storeAndRef(args[0])
			if err != nil {
				return err
			}
			reg, err := f.registry()
			if err != nil {
				return err
			}
			d, v, err := reg.PullVerified(cmd.Context(), s, r.String(), t.keys)
			if err != nil {
				return err
			}
			if v != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "pulled %s %s, verified: signed by trusted key %s\n", r, d.Digest, keyName(v))
				return nil
			}
			t.warnUnverified(cmd.ErrOrStderr(), r.String(), true)
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s %s\n", r, d.Digest)
			return nil
		},
	}
	tf = bindTrustFlags(cmd.Flags())
	return cmd
}

// newImageCopyCmd is push or pull: one copy between the local store and REF's registry.
func newImageCopyCmd(f *imageFlags, use, short, done string,
	copyFn func(*oci.Registry, context.Context, *oci.Store, string) (ocispec.Descriptor, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, r, err := f.storeAndRef(args[0])
			if err != nil {
				return err
			}
			reg, err := f.registry()
			if err != nil {
				return err
			}
			d, err := copyFn(reg, cmd.Context(), s, r.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", done, r, d.Digest)
			return nil
		},
	}
}
