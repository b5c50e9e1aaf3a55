// Command buildcatalogue builds Gadgetry's built-in gadgets into the OCI image layout that the
// gadgetry binary embeds (gadgets/catalogue). Every directory under -gadgets holding a
// gadget.yaml is built for amd64 and arm64 with SOURCE_DATE_EPOCH=0 and tagged with its
// directory name ("trace_exec"). The layout is deterministic: the same sources and toolchains
// give the same bytes, so the committed layout can be checked against its sources (-check).
//
// scripts/build-gadgets.sh runs it; it needs only go and clang.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	orasoci "oras.land/oras-go/v2/content/oci"

	"github.com/gadgetry/gadgetry/oci/build"
)

func main() {
	gadgetsDir := flag.String("gadgets", "gadgets", "directory whose subdirectories with a gadget.yaml are built")
	out := flag.String("out", "gadgets/catalogue", "OCI image layout directory to write (replaced)")
	check := flag.Bool("check", false, "rebuild into a temporary directory and fail if -out differs")
	verbose := flag.Bool("v", false, "show each build step")
	flag.Parse()
	if err := run(context.Background(), *gadgetsDir, *out, *check, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "build-gadgets:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, gadgetsDir, out string, check, verbose bool) error {
	dirs, err := gadgetDirs(gadgetsDir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".catalogue-")
	if err != nil {
		return fmt.Errorf("creating a temporary layout next to %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)

	var progress io.Writer = io.Discard
	if verbose {
		progress = os.Stderr
	}
	// Checking on a machine without TinyGo: a gadget whose build.yaml asks for it cannot be
	// rebuilt here, so its committed image is kept and the rest is checked.
	keep := ""
	if check {
		keep = out
	}
	if err := buildCatalogue(ctx, dirs, tmp, keep, progress); err != nil {
		return err
	}
	if check {
		diffs, err := compareTrees(out, tmp)
		if err != nil {
			return err
		}
		if len(diffs) > 0 {
			msg := fmt.Sprintf("%s is out of date with the gadget sources:\n", out)
			for _, d := range diffs {
				msg += "  " + d + "\n"
			}
			msg += "run `make gadgets` (scripts/build-gadgets.sh) and commit " + out + ";\n" +
				"if you did, your clang or Go version differs from the one that built it (clang-19, go from go.mod)"
			return fmt.Errorf("%s", msg)
		}
		fmt.Fprintf(os.Stderr, "%s is up to date (%d gadgets)\n", out, len(dirs))
		return nil
	}
	// Replace only the layout's own files: out also holds the Go package that embeds them.
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	for _, name := range layoutFiles {
		if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
			return fmt.Errorf("replacing %s: %w", out, err)
		}
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(out, name)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("replacing %s: %w", out, err)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d gadgets)\n", out, len(dirs))
	return nil
}

// gadgetDirs lists the subdirectories of root that hold a gadget.yaml, sorted by name.
func gadgetDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("listing built-in gadgets: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), "gadget.yaml")); err == nil {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// buildCatalogue builds each gadget directory and writes the layout to out. With committed
// set (a check), a gadget that needs TinyGo where none is installed is not built: its image
// is copied from the committed layout instead, with a line saying so.
func buildCatalogue(ctx context.Context, dirs []string, out, committed string, progress io.Writer) error {
	store := memory.New()
	var entries []layoutEntry
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if committed != "" && needsMissingTinyGo(dir) {
			fmt.Fprintf(os.Stderr, "not rebuilding %s: its build.yaml asks for TinyGo, which is not installed here; its committed image is kept unchecked\n", name)
			src, err := orasoci.NewFromFS(ctx, os.DirFS(committed))
			if err != nil {
				return fmt.Errorf("reading the committed %s: %w", committed, err)
			}
			desc, err := oras.Copy(ctx, src, name, store, name, oras.DefaultCopyOptions)
			if err != nil {
				return fmt.Errorf("copying the committed image of %s: %w", name, err)
			}
			entries = append(entries, layoutEntry{name: name, desc: desc})
			continue
		}
		fmt.Fprintf(os.Stderr, "building %s\n", name)
		desc, err := build.Build(ctx, dir, build.Options{
			Target:   store,
			Created:  time.Unix(0, 0),
			Progress: progress,
		})
		if err != nil {
			return fmt.Errorf("building %s: %w", dir, err)
		}
		entries = append(entries, layoutEntry{name: name, desc: desc})
	}
	return writeLayout(ctx, store, entries, out)
}

// needsMissingTinyGo reports whether dir's build.yaml asks for TinyGo and no TinyGo is found
// ($TINYGO, then tinygo in PATH).
func needsMissingTinyGo(dir string) bool {
	spec, err := build.LoadSpec(dir, nil)
	if err != nil || spec.WASMToolchain != build.ToolchainTinyGo {
		return false
	}
	_, err = build.TinyGoPath()
	return err != nil
}
