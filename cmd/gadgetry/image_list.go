package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
)

// listedImage is one row of `image list`.
type listedImage struct {
	Ref       string   `json:"ref"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Archs     []string `json:"archs"`
	// BuiltIn is true for a gadget built into the binary (Ref is its bare name).
	BuiltIn bool `json:"builtIn"`
}

func newImageListCmd(f *imageFlags) *cobra.Command {
	var out *outputFormat
	var noBuiltIn bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the built-in gadgets and the images in the local store",
		Long: `List the gadgets built into gadgetry (marked built-in; run them by bare name) and the
images in the local store, by reference.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := f.openStore()
			if err != nil {
				return err
			}
			rows := []listedImage{}
			if !noBuiltIn {
				if rows, err = builtInRows(ctx); err != nil {
					return err
				}
			}
			es, err := s.List(ctx)
			if err != nil {
				return err
			}
			for _, e := range es {
				rows = append(rows, listedImage{Ref: e.Ref, Digest: e.Descriptor.Digest.String(), MediaType: e.Descriptor.MediaType, Archs: archs(ctx, s, e.Descriptor)})
			}
			if done, err := out.print(cmd.OutOrStdout(), rows); done {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tARCHITECTURES\tSOURCE")
			for _, r := range rows {
				src := "store"
				if r.BuiltIn {
					src = "built-in"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Ref, shortDigest(r.Digest), strings.Join(r.Archs, ","), src)
			}
			return tw.Flush()
		},
	}
	out = bindOutput(cmd.Flags())
	cmd.Flags().BoolVar(&noBuiltIn, "no-builtin", false, "list only the images of the local store")
	return cmd
}

// builtInRows lists the built-in gadgets, by name.
func builtInRows(ctx context.Context) ([]listedImage, error) {
	cat, err := catalogue.Open(ctx)
	if err != nil {
		return nil, err
	}
	names, err := oci.Tags(ctx, cat)
	if err != nil {
		return nil, fmt.Errorf("listing the built-in gadgets: %w", err)
	}
	sort.Strings(names)
	rows := []listedImage{}
	for _, n := range names {
		d, err := cat.Resolve(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("built-in gadget %s: %w", n, err)
		}
		rows = append(rows, listedImage{Ref: n, Digest: d.Digest.String(), MediaType: d.MediaType, Archs: archs(ctx, cat, d), BuiltIn: true})
	}
	return rows, nil
}

func archs(ctx context.Context, s oras.ReadOnlyTarget, d ocispec.Descriptor) []string {
	a, err := oci.Architectures(ctx, s, d)
	if err != nil {
		return []string{"?"}
	}
	if len(a) == 1 && a[0] == "" {
		return []string{"any"}
	}
	return a
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[i+1 : i+13]
	}
	return d
}
