package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/oci/build/sdk"
)

func sdkVersionLine() string { return sdk.Module + " " + sdk.Version }

// newImageBuildCmd is `gadgetry image build`; newImageCmd adds it.
func newImageBuildCmd(f *imageFlags) *cobra.Command {
	var (
		tag, clang, includeDir, wasmToolchain, tinyGo string
		archs                                         []string
	)
	cmd := &cobra.Command{
		Use:   "build DIR",
		Short: "Build a gadget image from its sources into the local store",
		Long: `Build a gadget image from DIR: program.bpf.c is compiled with clang for each architecture
(eBPF objects keep BTF, lose DWARF), go/ is built into a WASI reactor (its own Go module) with
standard Go (GOOS=wasip1 GOARCH=wasm) or TinyGo (--wasm-toolchain=tinygo: -target=wasip1
-buildmode=c-shared -scheduler=none, TinyGo ` + build.TinyGoMin + `.x up to ` + build.TinyGoMax + `), and gadget.yaml becomes
the image config. A go.mod that requires the wasmapi SDK by version gets the SDK built into
gadgetry (` + sdkVersionLine() + `): no network or checkout needed. A build.yaml in DIR may name other
sources: ebpfsource, wasm (a directory or a prebuilt .wasm), wasm-toolchain, metadata, cflags,
btfgen.

Builds are reproducible: with SOURCE_DATE_EPOCH set, the same sources give the same digest.
Progress goes to stderr; the image digest is printed on stdout.`,
		Example: `  gadgetry image build gadgets/trace_exec -t localhost:5000/trace_exec:v1
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) gadgetry image build . -t mygadget`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			of := f.ociFlags
			var ref oci.Reference
			if tag != "" {
				var err error
				ref, err = of.parseRef(tag)
				if err != nil {
					return fmt.Errorf("--tag: %w", err)
				}
				if ref.Digest != "" {
					return fmt.Errorf("--tag %q: a built image is named by a tag, not a digest (drop the @sha256:… part)", tag)
				}
			}
			store, err := of.openStore()
			if err != nil {
				return err
			}
			storeDir := store.Root()
			ctx := cmd.Context()
			desc, err := build.Build(ctx, args[0], build.Options{
				Target:        store,
				Archs:         archs,
				Clang:         clang,
				IncludeDir:    includeDir,
				WASMToolchain: wasmToolchain,
				TinyGo:        tinyGo,
				Progress:      cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			if tag != "" {
				if err := store.Tag(ctx, desc, ref.String()); err != nil {
					return fmt.Errorf("tagging %s as %s in %s: %w", desc.Digest, ref, storeDir, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "tagged %s\n", ref)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the image is not tagged: name it with -t, or the store's garbage collection will remove it\n")
			}
			fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&tag, "tag", "t", "", "name the image (normalized: trace_exec becomes <registry prefix>/trace_exec:latest)")
	fl.StringVar(&clang, "clang", "", "clang binary (default $CLANG, else clang-19, else clang)")
	fl.StringSliceVar(&archs, "arch", build.DefaultArchs, "architectures to build, in manifest order")
	fl.StringVar(&includeDir, "include-dir", "", "gadget header directory (default: the headers built into gadgetry)")
	fl.StringVar(&wasmToolchain, "wasm-toolchain", "", "build go/ with go or tinygo (default: build.yaml's wasm-toolchain, else go)")
	fl.StringVar(&tinyGo, "tinygo", "", "tinygo binary (default $TINYGO, else tinygo from PATH)")
	return cmd
}
