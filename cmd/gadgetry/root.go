package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// newRootCmd assembles the command tree. Each subcommand lives in its own file, named after it.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gadgetry",
		Short:         "Run eBPF gadgets packaged as OCI images",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       gadgetryVersion(),
		Args:          unknownSubcommand,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// --version prints what `gadgetry version` does.
	var v strings.Builder
	printVersion(&v)
	root.SetVersionTemplate(v.String())
	// Unknown flags and flag values that do not parse are usage errors (exit status 2).
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newVersionCmd(),
		newRunCmd(),
		newImageCmd(),
		newGadgetCmd(),
		newLoginCmd(),
		newLogoutCmd(),
		newDeployCmd(),
		newUndeployCmd(),
		newDaemonCmd(),
	)
	return root
}
