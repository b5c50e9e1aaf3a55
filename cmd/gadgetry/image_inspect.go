package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/oci/inspect"
)

func newImageInspectCmd(f *imageFlags) *cobra.Command {
	var remote bool
	var tf *trustFlags
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image: manifests, metadata, layers, sizes, eBPF programs and maps, WASM imports, signatures",
		Long: `Show an image: manifests, metadata, layers, sizes, eBPF programs and maps, WASM imports, and
its signatures: whether it is signed (cosign's sha256-<digest>.sig) and whether a trusted key
(--public-keys, else publicKeys of the config file) verifies it, naming the key.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := f.parseRef(args[0])
			if err != nil {
				return err
			}
			tf.verify = true
			t, err := tf.load()
			if err != nil {
				return err
			}
			src, name, err := f.source(r, remote)
			if err != nil {
				return err
			}
			// A bare name means a built-in gadget first, as for `run`.
			if !remote {
				if cat := builtIn(ctx, r); cat != nil {
					src, name = cat, r.Name
				}
			}
			img, err := inspect.Inspect(ctx, src, name)
			if err != nil {
				if !remote && errors.Is(err, oci.ErrNotFound) {
					return fmt.Errorf("%w (to inspect an image in its registry, add --remote)", err)
				}
				return err
			}
			if name == r.Name {
				img.Ref = r.Name + " (built-in)"
			} else {
				img.Ref = r.String()
				if img.Signature, err = oci.CheckSignatures(ctx, src, r, digest.Digest(img.Digest), t.keys); err != nil {
					return fmt.Errorf("inspecting %s: %w", r, oci.Explain(src, err))
				}
			}
			if done, err := out.print(cmd.OutOrStdout(), img); done {
				return err
			}
			return printInspection(cmd.OutOrStdout(), img, t)
		},
	}
	cmd.Flags().BoolVar(&remote, "remote", false, "inspect the image in its registry instead of the local store")
	tf = bindTrustFlags(cmd.Flags())
	_ = cmd.Flags().MarkHidden("verify-image") // inspect only reports
	out = bindOutput(cmd.Flags())
	return cmd
}

func printInspection(w io.Writer, img *inspect.Image, t *trust) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Reference:\t%s\n", img.Ref)
	fmt.Fprintf(tw, "Digest:\t%s\n", img.Digest)
	fmt.Fprintf(tw, "Media type:\t%s\n", img.MediaType)
	fmt.Fprintf(tw, "Size:\t%d bytes\n", img.Size)
	if img.Signature == nil {
		fmt.Fprintf(tw, "Signatures:\tnone needed: built in, trusted as part of the gadgetry binary\n")
	} else {
		for _, l := range signatureLines(img.Signature, t) {
			fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
		}
	}
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
