package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newImageRemoveCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm REF...",
		Aliases: []string{"remove"},
		Short:   "Untag images and delete the blobs no remaining tag needs",
		Args:    argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := f.openStore()
			if err != nil {
				return err
			}
			for _, a := range args {
				r, err := f.parseRef(a)
				if err != nil {
					return err
				}
				removed, err := s.Remove(ctx, r.String())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "untagged %s; deleted %d unused blobs\n", r, len(removed))
			}
			return nil
		},
	}
}
