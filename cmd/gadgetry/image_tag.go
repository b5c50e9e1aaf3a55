package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newImageTagCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SRC DST",
		Short: "Give an image of the local store another reference",
		Args:  cobra.ExactArgs(2),
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
			d, err := s.Resolve(ctx, src.String())
			if err != nil {
				return fmt.Errorf("tagging %s: %w: it is not in the store %s (see gadgetry image list)", src, err, s.Root())
			}
			if err := s.Tag(ctx, d, dst.String()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s → %s (%s)\n", src, dst, d.Digest)
			return nil
		},
	}
}
