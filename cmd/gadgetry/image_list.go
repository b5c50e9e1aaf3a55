package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
)

// listedImage is one row of `image list`.
type listedImage struct {
	Ref       string   `json:"ref"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Archs     []string `json:"archs"`
}

func newImageListCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the images in the local store",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := f.openStore()
			if err != nil {
				return err
			}
			es, err := s.List(ctx)
			if err != nil {
				return err
			}
			rows := []listedImage{}
			for _, e := range es {
				rows = append(rows, listedImage{Ref: e.Ref, Digest: e.Descriptor.Digest.String(), MediaType: e.Descriptor.MediaType, Archs: archs(ctx, s, e)})
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tARCHITECTURES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Ref, shortDigest(r.Digest), strings.Join(r.Archs, ","))
			}
			return tw.Flush()
		},
	}
}

func archs(ctx context.Context, s *oci.Store, e oci.Entry) []string {
	a, err := oci.Architectures(ctx, s, e.Descriptor)
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
