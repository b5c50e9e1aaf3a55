package main

import "github.com/spf13/cobra"

// newImageBuildCmd is `gadgetry image build`; newImageCmd adds it.
func newImageBuildCmd() *cobra.Command {
	return &cobra.Command{Use: "build DIR", Short: "(not implemented yet)"}
}
