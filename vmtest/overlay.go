package vmtest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/kernel"
)

// Overlay is an overlay filesystem mounted for one test.
type Overlay struct {
	// Merged is the mount point: what a container would see as its root.
	Merged string
	// Lower and Upper are the layer directories; files written under Merged land in Upper.
	Lower, Upper string
}

// MountOverlay mounts, for the duration of tb, a tmpfs holding lower, upper and work
// directories and an overlay of them (an upper layer on tmpfs works wherever overlayfs does).
// It requires kernel.Overlayfs, so it skips or fails like kernel.Require. Both mounts are
// removed when tb ends.
func MountOverlay(tb testing.TB) Overlay {
	tb.Helper()
	kernel.Require(tb, kernel.Overlayfs)
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		tb.Fatalf("mounting a tmpfs on %s for an overlay: %v", dir, err)
	}
	tb.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	o := Overlay{Merged: filepath.Join(dir, "merged"), Lower: filepath.Join(dir, "lower"), Upper: filepath.Join(dir, "upper")}
	for _, d := range []string{o.Lower, o.Upper, filepath.Join(dir, "work"), o.Merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatalf("preparing the overlay: %v", err)
		}
	}
	opts := "lowerdir=" + o.Lower + ",upperdir=" + o.Upper + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", o.Merged, "overlay", 0, opts); err != nil {
		tb.Fatalf("mounting an overlay on %s: %v", o.Merged, err)
	}
	tb.Cleanup(func() { unix.Unmount(o.Merged, unix.MNT_DETACH) })
	return o
}
