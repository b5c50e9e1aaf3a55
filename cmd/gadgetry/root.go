package main

import (
	"github.com/spf13/cobra"
)

// newRootCmd assembles the command tree. Each subcommand lives in its own file, named after it.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gadgetry",
		Short:         "Run eBPF gadgets packaged as OCI images",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newRunCmd(),
		newImageCmd(),
		newGadgetCmd(),
		newLoginCmd(),
		newLogoutCmd(),
	)
	return root
}
