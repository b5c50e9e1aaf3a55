package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newImagePushCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "push REF",
		Short: "Copy an image of the local store to its registry",
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
			d, err := f.registry().Push(cmd.Context(), s, r.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s %s\n", r, d.Digest)
			return nil
		},
	}
}

func newImagePullCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "pull REF",
		Short: "Copy an image from its registry into the local store",
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
			d, err := f.registry().Pull(cmd.Context(), s, r.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s %s\n", r, d.Digest)
			return nil
		},
	}
}
