package containers

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const mountFinderChildEnv = "GADGETRY_MOUNTFINDER_CHILD"

type mountFinderSetup struct {
	Dir       string // playground
	Sub       string // name of a sub-cgroup created by the parent
	V2        string // the original cgroup2 mount point, "" if none
	V1Memory  string // the original v1 memory mount point, "" if none
	ResultOut string
}

type mountFinderResult struct {
	V2, V1Memory string
	OwnDirOK     bool
	Err          string
	// What order-based rules would have chosen, to show the setup defeats them.
	LastV2, LongestV2, FirstMemory string
}

// TestMountFinderPrivateNamespace re-runs the test binary in a private mount namespace, where
// it rearranges the cgroup mounts so that neither the first, the last nor the longest cgroup
// mount is the right one, then runs the finder on the real /proc/self/mountinfo.
func TestMountFinderPrivateNamespace(t *testing.T) {
	if os.Getenv(mountFinderChildEnv) != "" {
		mountFinderChild()
		return
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mount namespaces need root")
		}
		t.Skip("mount namespaces need root")
	}
	cur, err := ReadCgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	s := mountFinderSetup{Dir: t.TempDir(), Sub: "gadgetry-mf-" + strconv.Itoa(os.Getpid())}
	s.ResultOut = filepath.Join(s.Dir, "result.json")
	if cur.V2 != nil {
		s.V2 = cur.V2.MountPoint
		mkCgroup(t, filepath.Join(s.V2, s.Sub))
	}
	if m := cur.V1["memory"]; m != nil {
		s.V1Memory = m.MountPoint
		mkCgroup(t, filepath.Join(s.V1Memory, s.Sub))
	}
	b, _ := json.Marshal(s)
	cmd := exec.Command(os.Args[0], "-test.run=^TestMountFinderPrivateNamespace$")
	cmd.Env = append(os.Environ(), mountFinderChildEnv+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child in a private mount namespace: %v\n%s", err, out)
	}
	rb, err := os.ReadFile(s.ResultOut)
	if err != nil {
		t.Fatal(err)
	}
	var r mountFinderResult
	if err := json.Unmarshal(rb, &r); err != nil {
		t.Fatal(err)
	}
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if s.V2 != "" {
		if want := filepath.Join(s.Dir, "h"); r.V2 != want {
			t.Errorf("cgroup2 mount chosen: %q, want %q", r.V2, want)
		}
		if r.LastV2 == r.V2 || r.LongestV2 == r.V2 {
			t.Errorf("setup too easy: last %q, longest %q", r.LastV2, r.LongestV2)
		}
		if !r.OwnDirOK {
			t.Error("our own cgroup directory is not found through the chosen mount")
		}
	}
	if s.V1Memory != "" {
		if want := filepath.Join(s.Dir, "mm"); r.V1Memory != want {
			t.Errorf("memory mount chosen: %q, want %q", r.V1Memory, want)
		}
		if r.FirstMemory == r.V1Memory {
			t.Errorf("setup too easy: first memory mount %q", r.FirstMemory)
		}
	}
}

func mkCgroup(t *testing.T, dir string) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating cgroup %s: %v", dir, err)
	}
	t.Cleanup(func() { os.Remove(dir) })
}

func mountFinderChild() {
	var s mountFinderSetup
	r := mountFinderResult{}
	defer func() {
		b, _ := json.Marshal(r)
		_ = os.WriteFile(s.ResultOut, b, 0o644)
	}()
	if err := json.Unmarshal([]byte(os.Getenv(mountFinderChildEnv)), &s); err != nil {
		r.Err = err.Error()
		return
	}
	if err := rearrange(s); err != nil {
		r.Err = err.Error()
		return
	}
	m, err := ReadCgroupMounts()
	if err != nil {
		r.Err = err.Error()
		return
	}
	if m.V2 != nil {
		r.V2 = m.V2.MountPoint
		pc, err := readProcCgroups("self")
		if err == nil {
			if dir, ok := m.V2.Dir(pc.unified); ok {
				_, err := os.Stat(filepath.Join(dir, "cgroup.procs"))
				r.OwnDirOK = err == nil
			}
		}
	}
	if mm := m.V1["memory"]; mm != nil {
		r.V1Memory = mm.MountPoint
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		cm, err := parseMountinfoLine(l)
		if err != nil || cm == nil {
			continue
		}
		if cm.Version == 2 {
			r.LastV2 = cm.MountPoint
			if len(cm.MountPoint) > len(r.LongestV2) {
				r.LongestV2 = cm.MountPoint
			}
		} else if r.FirstMemory == "" && slices.Contains(cm.Controllers, "memory") {
			r.FirstMemory = cm.MountPoint
		}
	}
}

// rearrange builds, in this private mount namespace:
//   - cgroup2: a fresh mount of the hierarchy root at <dir>/h, then a bind mount of a
//     sub-cgroup at a longer path listed after it; the original mount is detached.
//   - v1 memory: a bind mount of a sub-cgroup first, then a fresh mount of the hierarchy root
//     at <dir>/mm listed after it; the original is detached.
func rearrange(s mountFinderSetup) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	mkdir := func(p string) error { return os.MkdirAll(p, 0o755) }
	if s.V2 != "" {
		h := filepath.Join(s.Dir, "h")
		long := filepath.Join(s.Dir, "a", "very", "long", "mount", "point", "for", "one", "sub", "cgroup")
		if err := mkdir(h); err != nil {
			return err
		}
		if err := mkdir(long); err != nil {
			return err
		}
		if err := unix.Mount("cgroup2", h, "cgroup2", 0, ""); err != nil {
			return fmt.Errorf("mounting cgroup2 at %s: %w", h, err)
		}
		if err := unix.Mount(filepath.Join(h, s.Sub), long, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting a sub-cgroup: %w", err)
		}
		if err := unix.Unmount(s.V2, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching %s: %w", s.V2, err)
		}
	}
	if s.V1Memory != "" {
		sub := filepath.Join(s.Dir, "b", "memory", "sub", "cgroup", "with", "a", "long", "path")
		mm := filepath.Join(s.Dir, "mm")
		if err := mkdir(sub); err != nil {
			return err
		}
		if err := mkdir(mm); err != nil {
			return err
		}
		if err := unix.Mount(filepath.Join(s.V1Memory, s.Sub), sub, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting a memory sub-cgroup: %w", err)
		}
		if err := unix.Unmount(s.V1Memory, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching %s: %w", s.V1Memory, err)
		}
		if err := unix.Mount("cgroup", mm, "cgroup", 0, "memory"); err != nil {
			return fmt.Errorf("mounting the v1 memory hierarchy at %s: %w", mm, err)
		}
	}
	return nil
}
