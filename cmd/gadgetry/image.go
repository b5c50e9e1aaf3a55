package main

import (
	"context"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
)

// imageFlags are the persistent flags of `image` and its subcommands.
type imageFlags struct {
	*ociFlags
}

// newImageCmd is `gadgetry image`: the local store and registries.
func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage gadget images: build, list, inspect, tag, remove, push, pull, sign, verify, export, import",
		Long: `Manage gadget images. Images live in the local store, a standard OCI image layout
(--store, $GADGETRY_STORE, default /var/lib/gadgetry/oci-store for root), tagged with full
normalized references: "trace_open" means ghcr.io/inspektor-gadget/gadget/trace_open:latest.
A bare name of a built-in gadget (trace_exec) means the built-in one, as for run.`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := &imageFlags{ociFlags: bindOCIFlags(cmd.PersistentFlags())}
	login := newLoginCmd()
	login.Short = "Same as gadgetry login"
	login.Hidden = true
	logout := newLogoutCmd()
	logout.Short = "Same as gadgetry logout"
	logout.Hidden = true
	cmd.AddCommand(
		newImageBuildCmd(f),
		newImageListCmd(f),
		newImageInspectCmd(f),
		newImageTagCmd(f),
		newImageRemoveCmd(f),
		newImagePushCmd(f),
		newImagePullCmd(f),
		newImageSignCmd(f),
		newImageVerifyCmd(f),
		newImageKeygenCmd(),
		newImageExportCmd(f),
		newImageImportCmd(f),
		login,
		logout,
	)
	return cmd
}

// source returns where an image command reads r: its registry (remote), by tag or digest, or
// the local store, by full reference.
func (f *imageFlags) source(r oci.Reference, remote bool) (oras.ReadOnlyTarget, string, error) {
	if remote {
		reg, err := f.registry()
		if err != nil {
			return nil, "", err
		}
		repo, err := reg.Repository(r)
		if err != nil {
			return nil, "", err
		}
		return repo, r.Object(), nil
	}
	s, err := f.openStore()
	if err != nil {
		return nil, "", err
	}
	return s, r.String(), nil
}

// storeAndRef opens the local store and parses the reference arg.
func (f *imageFlags) storeAndRef(arg string) (*oci.Store, oci.Reference, error) {
	s, err := f.openStore()
	if err != nil {
		return nil, oci.Reference{}, err
	}
	r, err := f.parseRef(arg)
	return s, r, err
}

// builtIn returns the built-in catalogue when r is a bare name (no tag, no digest) of one of
// its gadgets, else nil.
func builtIn(ctx context.Context, r oci.Reference) oras.ReadOnlyTarget {
	if !r.Bare || r.Digest != "" || r.Tag != oci.DefaultTag {
		return nil
	}
	cat, err := catalogue.Open(ctx)
	if err != nil {
		return nil
	}
	if _, err := cat.Resolve(ctx, r.Name); err != nil {
		return nil
	}
	return cat
}
