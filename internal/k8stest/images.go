package k8stest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/deploy"
	"github.com/gadgetry/gadgetry/internal/selfimage"
)

// ImportImage imports an OCI image layout tarball into the node's containerd (namespace
// k8s.io, where the kubelet finds it), as `ctr images import` does; pods then run it with
// imagePullPolicy: Never.
func ImportImage(t testing.TB, tarball string) {
	t.Helper()
	if err := importImage(Get(t), tarball); err != nil {
		t.Fatal(err)
	}
}

func importImage(info *Info, tarball string) error {
	out, err := exec.Command("ctr", "--address", info.Containerd, "-n", "k8s.io", "images", "import", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s: %v\n%s", tarball, err, out)
	}
	return nil
}

var gadgetryImage struct {
	once sync.Once
	err  error
}

// GadgetryImage builds Gadgetry's image from this checkout (a static binary, as `make image`
// does) and imports it into the node as deploy.DefaultImage, once per test binary; it returns
// that name. Deploy it with imagePullPolicy Never.
func GadgetryImage(t testing.TB) string {
	t.Helper()
	info := Get(t)
	gadgetryImage.once.Do(func() { gadgetryImage.err = buildGadgetryImage(info) })
	if gadgetryImage.err != nil {
		t.Fatalf("Gadgetry's image: %v", gadgetryImage.err)
	}
	return deploy.DefaultImage
}

func buildGadgetryImage(info *Info) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "k8stest-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gadgetry")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/gadgetry")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/gadgetry: %v\n%s", err, out)
	}
	spec, err := selfimage.Gadgetry(bin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	img, err := selfimage.Build(ctx, spec)
	if err != nil {
		return err
	}
	tarball := filepath.Join(dir, "image.tar")
	f, err := os.Create(tarball)
	if err != nil {
		return err
	}
	if err := img.WriteTar(ctx, deploy.DefaultImage, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return importImage(info, tarball)
}
