package runtime_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// libcRootfs makes a container root filesystem with its own copies (other inodes than the
// host's) of the host's /bin/true, at /gtest/true, and of the shared libraries and loader it
// needs, at their host paths.
func libcRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := runc.WriteRootfs(dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ldd", "/bin/true").Output()
	if err != nil {
		t.Fatalf("ldd /bin/true: %v", err)
	}
	files := map[string]string{"/bin/true": "/gtest/true"}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				files[f] = f
			}
		}
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, to)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUprobeInContainers: a uprobe on a short library name (igstyle's uprobe/libc:exit) fires
// for the file it was set on, so a container with its own libc needs its own uprobe. With
// ContainerHooks the run attaches it in the selected containers running at attach time and in
// those that start later, and not in a container the selection leaves out. Each container's
// exits are told apart by the mount namespace the program records.
func TestUprobeInContainers(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	before := gadgettest.Objects(t, prefix)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	early, late, other := "up-early-"+suffix, "up-late-"+suffix, "up-other-"+suffix
	c1 := env.Start(runc.Options{Name: early, Rootfs: libcRootfs(t)})

	cache, err := containers.New(context.Background(), containers.Options{RuncRoots: []string{env.Root}, NoDefaultRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igstyle", gadgettest.Compile(t, "igstyle"), ""))
	if err != nil {
		t.Fatal(err)
	}
	sel := containers.Selector{Include: []string{early, late}}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{runtime.ContainerHooks(cache, sel)}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	exits := run.Map("gtest_exits")
	seen := func(mntns uint64) bool {
		var pid uint32
		var ns uint64
		for it := exits.Iterate(); it.Next(&pid, &ns); {
			if ns == mntns {
				return true
			}
		}
		return false
	}
	// execs /gtest/true in c until the uprobe records an exit in its mount namespace.
	waitExit := func(c *runc.Container, name string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !seen(c.MntNS); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no exit of container %s's own libc seen in a minute (hang guard)", name)
			}
			if out, err := c.Exec("/gtest/true"); err != nil {
				t.Fatalf("runc exec in %s: %v: %s", name, err, out)
			}
		}
	}

	waitExit(c1, early) // attached with the run's other programs

	o := env.Start(runc.Options{Name: other, Rootfs: libcRootfs(t)})
	c2 := env.Start(runc.Options{Name: late, Rootfs: libcRootfs(t)})
	waitExit(c2, late) // attached when the cache reported it, after the run's start

	// The other container was reported before the late one, so its event has been handled:
	// an exit there is recorded only if the uprobe was wrongly attached in it.
	if out, err := o.Exec("/gtest/true"); err != nil {
		t.Fatalf("runc exec in %s: %v: %s", other, err, out)
	}
	if seen(o.MntNS) {
		t.Errorf("the uprobe fired in container %s, which the selection leaves out", other)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
}

// TestUprobeContainerOnlyLibrary: a uprobe on a library the host does not have
// (uprobe/libgtestonly:exit) is kept, with a warning saying so, for the containers the run
// follows: it fires in a selected container that has the library, one running at attach time
// and one that starts later. The containers' libgtestonly.so.6 is a hard link to their own
// libc, so their exits go through it.
func TestUprobeContainerOnlyLibrary(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	before := gadgettest.Objects(t, prefix)
	rootfs := func() string {
		dir := libcRootfs(t)
		libc, err := filepath.Glob(filepath.Join(dir, "lib*", "*", "libc.so.6"))
		if err != nil || len(libc) == 0 {
			t.Fatalf("no libc.so.6 in the container's root: %v", err)
		}
		if err := os.Link(libc[0], filepath.Join(filepath.Dir(libc[0]), "libgtestonly.so.6")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	early, late := "up-only-early-"+suffix, "up-only-late-"+suffix
	c1 := env.Start(runc.Options{Name: early, Rootfs: rootfs()})

	cache, err := containers.New(context.Background(), containers.Options{RuncRoots: []string{env.Root}, NoDefaultRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var log lockedBuffer
	rt := runtime.New(runtime.Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igstyle", gadgettest.Compile(t, "igstyle", `-DGTEST_EXIT_LIB="libgtestonly"`), ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{runtime.ContainerHooks(cache, containers.Selector{Include: []string{early, late}})}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	want := "program gtest_ig_exit (uprobe/libgtestonly:exit) not attached on the host: library libgtestonly (for symbol exit) is not on this system's library path; kept for the containers with their own copy (attached in 1 now, and in those that start later)"
	if !strings.Contains(log.String(), want) {
		t.Errorf("no warning %q in:\n%s", want, log.String())
	}
	exits := run.Map("gtest_exits")
	waitExit := func(c *runc.Container, name string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			var pid uint32
			var ns uint64
			for it := exits.Iterate(); it.Next(&pid, &ns); {
				if ns == c.MntNS {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no exit seen through container %s's libgtestonly in a minute (hang guard)", name)
			}
			if out, err := c.Exec("/gtest/true"); err != nil {
				t.Fatalf("runc exec in %s: %v: %s", name, err, out)
			}
		}
	}
	waitExit(c1, early)
	waitExit(env.Start(runc.Options{Name: late, Rootfs: rootfs()}), late)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
}
