// Command mkimage assembles a container image from a static binary without Docker
// (internal/selfimage) and writes it as an OCI image layout tarball, pushes it to a registry,
// or both. `make image` runs it on bin/gadgetry; the test cluster runs it for its pause image.
//
//	mkimage [-kind gadgetry|pause] [-binary FILE] [-name REF] [-o FILE.tar] [-push REF] [-insecure] [-authfile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gadgetry/gadgetry/internal/selfimage"
	"github.com/gadgetry/gadgetry/oci"
)

func main() {
	kind := flag.String("kind", "gadgetry", "what image: gadgetry (the binary as /usr/bin/gadgetry, CA bundle) or pause (the binary as /pause)")
	binary := flag.String("binary", "bin/gadgetry", "the static program to put in the image")
	name := flag.String("name", "gadgetry:dev", "the name the tarball gives the image")
	out := flag.String("o", "", "write the image as an OCI image layout tarball to this file")
	push := flag.String("push", "", "push the image to this registry reference (registry/repository:tag)")
	insecure := flag.Bool("insecure", false, "speak plain HTTP to the -push registry")
	authFile := flag.String("authfile", "", "Docker config file with the registry's credentials (default: the Docker config)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail("unexpected arguments %q; see -h", flag.Args())
	}
	if *out == "" && *push == "" {
		fail("say where the image goes: -o FILE.tar and/or -push REF")
	}
	var spec selfimage.Spec
	var err error
	switch *kind {
	case "gadgetry":
		spec, err = selfimage.Gadgetry(*binary)
	case "pause":
		spec, err = selfimage.Pause(*binary)
	default:
		fail("-kind %q: want gadgetry or pause", *kind)
	}
	if err != nil {
		fail("%v", err)
	}
	ctx := context.Background()
	img, err := selfimage.Build(ctx, spec)
	if err != nil {
		fail("%v", err)
	}
	if *out != "" {
		if err := writeTar(ctx, img, *name, *out); err != nil {
			fail("writing %s: %v", *out, err)
		}
		full, _ := selfimage.ContainerReference(*name)
		fmt.Printf("%s: %s %s\n", *out, full, img.Manifest.Digest)
	}
	if *push != "" {
		reg := &oci.Registry{AuthFile: *authFile}
		if *insecure {
			if r, err := oci.ParseReference(*push); err == nil {
				reg.Insecure = []string{r.Registry}
			}
		}
		d, err := img.Push(ctx, reg, *push)
		if err != nil {
			fail("%v", err)
		}
		full, _ := selfimage.ContainerReference(*push)
		fmt.Printf("pushed %s@%s\n", strings.SplitN(full, "@", 2)[0], d.Digest)
	}
}

// writeTar writes the tarball next to out and renames it into place, so a failed run leaves
// no half-written file.
func writeTar(ctx context.Context, img *selfimage.Image, name, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".mkimage-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := img.WriteTar(ctx, name, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mkimage: "+format+"\n", args...)
	os.Exit(1)
}
