package main

import (
	"github.com/spf13/cobra"
)

// imageFlags are the persistent flags of `image` and its subcommands.
type imageFlags struct {
	*ociFlags
	output outputFormat
}

// newImageCmd is `gadgetry image`: the local store and registries.
func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage gadget images: build, list, inspect, tag, remove, push, pull, export, import",
		Long: `Manage gadget images. Images live in the local store, a standard OCI image layout
(--store, $GADGETRY_STORE, default /var/lib/gadgetry/oci-store for root), tagged with full
normalized references: "trace_open" means ghcr.io/inspektor-gadget/gadget/trace_open:latest.`,
	}
	f := &imageFlags{ociFlags: bindOCIFlags(cmd.PersistentFlags()), output: "columns"}
	cmd.PersistentFlags().VarP(&f.output, "output", "o", "output format: columns or json")
	cmd.AddCommand(
		newImageBuildCmd(),
		newImageListCmd(f),
		newImageInspectCmd(f),
		newImageTagCmd(f),
		newImageRemoveCmd(f),
		newImagePushCmd(f),
		newImagePullCmd(f),
		newImageExportCmd(f),
		newImageImportCmd(f),
		newLoginCmd(f.ociFlags),
		newLogoutCmd(f.ociFlags),
	)
	return cmd
}
