package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
)

func newImageTagCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SRC DST",
		Short: "Give an image of the local store, or a built-in gadget, another reference",
		Long: `Give an image of the local store another reference, DST. SRC may be a built-in gadget's
bare name (trace_exec): the built-in image is copied into the store as DST, to push or export
it like any other.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := f.openStore()
			if err != nil {
				return err
			}
			src, err := f.parseRef(args[0])
			if err != nil {
				return err
			}
			dst, err := f.parseRef(args[1])
			if err != nil {
				return err
			}
			if cat := builtIn(ctx, src); cat != nil {
				d, err := oci.Copy(ctx, cat, src.Name, s, dst.String())
				if err != nil {
					return fmt.Errorf("tagging built-in gadget %s as %s: %w", src.Name, dst, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (built-in) → %s (%s)\n", src.Name, dst, d.Digest)
				return nil
			}
			d, err := s.Resolve(ctx, src.String())
			if err != nil {
				return fmt.Errorf("tagging %s: %w", src, oci.NotFound(ctx, s, src.String(), err))
			}
			if err := s.Tag(ctx, d, dst.String()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s → %s (%s)\n", src, dst, d.Digest)
			return nil
		},
	}
}
