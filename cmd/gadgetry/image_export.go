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
		Short: "Write images of the local store to an OCI-layout tarball (FILE - is stdout)",
		Long: `Write images of the local store to a tarball holding an OCI image layout. The tarball is
deterministic: the same images give the same bytes (sorted entries, owner 0:0, mtime 0).`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.openStore()
			if err != nil {
				return err
			}
			refs := args[:len(args)-1]
			for i, a := range refs {
				r, err := f.parseRef(a)
				if err != nil {
					return err
				}
				refs[i] = r.String()
			}
			file := args[len(args)-1]
			if file == "-" {
				return oci.Export(cmd.Context(), s, refs, cmd.OutOrStdout())
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := oci.Export(cmd.Context(), s, refs, tmp); err != nil {
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
		Short: "Read images from an OCI-layout tarball into the local store (FILE - is stdin)",
		Args:  cobra.ExactArgs(1),
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
