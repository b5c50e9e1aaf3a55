package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/oci/inspect"
)

func newImageInspectCmd(f *imageFlags) *cobra.Command {
	var remote bool
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image: manifests, metadata, layers, sizes, eBPF programs and maps, WASM imports",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := f.parseRef(args[0])
			if err != nil {
				return err
			}
			var src oras.ReadOnlyTarget
			name := r.String()
			if remote {
				repo, err := f.registry().Repository(r)
				if err != nil {
					return err
				}
				src, name = repo, r.Object()
			} else {
				s, err := f.openStore()
				if err != nil {
					return err
				}
				src = s
				// A bare name means a built-in gadget first, as for `run`.
				if r.Bare && r.Digest == "" && r.Tag == oci.DefaultTag {
					if cat, err := catalogue.Open(ctx); err == nil {
						if _, err := cat.Resolve(ctx, r.Name); err == nil {
							src, name = cat, r.Name
						}
					}
				}
			}
			img, err := inspect.Inspect(ctx, src, name)
			if err != nil {
				if !remote {
					return fmt.Errorf("%w (to inspect an image in its registry, add --remote)", err)
				}
				return err
			}
			if name == r.Name {
				img.Ref = r.Name + " (built-in)"
			} else {
				img.Ref = r.String()
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), img)
			}
			return printInspection(cmd.OutOrStdout(), img)
		},
	}
	cmd.Flags().BoolVar(&remote, "remote", false, "inspect the image in its registry instead of the local store")
	return cmd
}

func printInspection(w io.Writer, img *inspect.Image) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Reference:\t%s\n", img.Ref)
	fmt.Fprintf(tw, "Digest:\t%s\n", img.Digest)
	fmt.Fprintf(tw, "Media type:\t%s\n", img.MediaType)
	fmt.Fprintf(tw, "Size:\t%d bytes\n", img.Size)
	if md := img.Metadata; md != nil {
		fmt.Fprintf(tw, "Name:\t%s\n", md.Name)
		fmt.Fprintf(tw, "Description:\t%s\n", md.Description)
		for _, kv := range [][2]string{{"Homepage", md.HomepageURL}, {"Documentation", md.DocumentationURL}, {"Source", md.SourceURL}} {
			if kv[1] != "" {
				fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
			}
		}
		var ds []string
		for n := range md.DataSources {
			ds = append(ds, n)
		}
		sort.Strings(ds)
		if len(ds) > 0 {
			fmt.Fprintf(tw, "Data sources:\t%s\n", strings.Join(ds, ", "))
		}
	}
	for _, m := range img.Manifests {
		fmt.Fprintf(tw, "\nManifest %s:\t%s (%d bytes)\n", m.Arch, m.Digest, m.Size)
		for _, l := range m.Layers {
			fmt.Fprintf(tw, "  layer\t%s\t%s\t%d bytes\n", l.MediaType, l.Digest, l.Size)
			if l.MediaType == oci.MediaTypeWASM {
				tc, sdkv := l.Annotations[build.AnnotationWASMToolchain], l.Annotations[build.AnnotationWASMSDK]
				if tc == "" {
					tc = "unknown toolchain"
				}
				if sdkv == "" {
					sdkv = "no gadgetry SDK recorded"
				}
				fmt.Fprintf(tw, "  wasm built with\t%s, %s\n", tc, sdkv)
			}
		}
		for _, p := range m.Programs {
			fmt.Fprintf(tw, "  program\t%s\t%s\t%s\n", p.Name, p.Type, p.Section)
		}
		for _, mp := range m.Maps {
			fmt.Fprintf(tw, "  map\t%s\t%s\tkey %d, value %d, max entries %d\n", mp.Name, mp.Type, mp.KeySize, mp.ValueSize, mp.MaxEntries)
		}
		for _, i := range m.WASMImports {
			fmt.Fprintf(tw, "  wasm import\t%s\n", i)
		}
		for _, wn := range m.Warnings {
			fmt.Fprintf(tw, "  warning\t%s\n", wn)
		}
	}
	return tw.Flush()
}
