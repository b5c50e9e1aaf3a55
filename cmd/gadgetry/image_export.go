package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci"
)

func newImageExportCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "export REF... FILE",
		Short: "Write images of the local store, or built-in gadgets, to an OCI-layout tarball (FILE - is stdout)",
		Long: `Write images of the local store to a tarball holding an OCI image layout, with their
signatures. A built-in gadget's bare name (trace_exec) exports the built-in image, named by its
full reference (` + oci.DefaultPrefix + `/trace_exec:latest, or with --registry-prefix). The
tarball is deterministic: the same images give the same bytes (sorted entries, owner 0:0,
mtime 0).`,
		Args: argsBetween(2, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := f.openStore()
			if err != nil {
				return err
			}
			var imgs []oci.ExportImage
			for _, a := range args[:len(args)-1] {
				r, err := f.parseRef(a)
				if err != nil {
					return err
				}
				if cat := builtIn(ctx, r); cat != nil {
					imgs = append(imgs, oci.ExportImage{Src: cat, Name: r.Name, As: r.String()})
					continue
				}
				imgs = append(imgs, oci.ExportImage{Src: s, Name: r.String()})
			}
			file := args[len(args)-1]
			if file == "-" {
				return oci.ExportImages(ctx, imgs, cmd.OutOrStdout())
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := oci.ExportImages(ctx, imgs, tmp); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), file)
		},
	}
}

func newImageImportCmd(f *imageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Read images from an OCI-layout tarball (.tar or .tar.gz) into the local store (FILE - is stdin)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.openStore()
			if err != nil {
				return err
			}
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				file, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer file.Close()
				r = file
			}
			es, err := oci.Import(cmd.Context(), s, r)
			if err != nil {
				return err
			}
			for _, e := range es {
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s %s\n", e.Ref, e.Descriptor.Digest)
			}
			return nil
		},
	}
}
