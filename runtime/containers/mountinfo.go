package containers

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// CgroupMount is one mounted cgroup hierarchy.
type CgroupMount struct {
	// MountID is the mount's id in mountinfo (first field).
	MountID int
	// Root is the directory of the hierarchy that is mounted ("/" for the whole hierarchy as
	// seen from this process's cgroup namespace).
	Root string
	// MountPoint is where it is mounted.
	MountPoint string
	// Version is 1 or 2.
	Version int
	// Controllers are the v1 controllers of the hierarchy ("cpu", "memory", "name=systemd");
	// empty for v2.
	Controllers []string
}

// Dir returns the directory of the cgroup at cgroupPath (as /proc/<pid>/cgroup shows it) under
// this mount, or false when the mount does not contain it.
func (m *CgroupMount) Dir(cgroupPath string) (string, bool) {
	if !strings.HasPrefix(m.Root, "/") || strings.HasPrefix(m.Root, "/..") {
		return "", false
	}
	rel, ok := strings.CutPrefix(path.Clean("/"+cgroupPath), m.Root)
	if !ok || (rel != "" && m.Root != "/" && rel[0] != '/') {
		return "", false
	}
	return path.Join(m.MountPoint, rel), true
}

// CgroupMounts are the cgroup hierarchies chosen from a mountinfo.
type CgroupMounts struct {
	// V2 is the cgroup2 (unified) hierarchy, nil when none is mounted (v1 only).
	V2 *CgroupMount
	// V1 maps each v1 controller to its hierarchy; empty on a v2-only system.
	V1 map[string]*CgroupMount
}

// ReadCgroupMounts parses /proc/self/mountinfo.
func ReadCgroupMounts() (*CgroupMounts, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("finding the cgroup filesystem: %w", err)
	}
	defer f.Close()
	return FindCgroupMounts(f)
}

// FindCgroupMounts chooses, from mountinfo text, one mount per cgroup hierarchy.
//
// The rule, which does not depend on the order of the lines:
//  1. Only mounts of type cgroup2 (the unified hierarchy) or cgroup (a v1 hierarchy, keyed by
//     each controller in its super options) are candidates. A tmpfs at /sys/fs/cgroup is not.
//  2. A candidate must be usable with the paths /proc/<pid>/cgroup prints, which are relative to
//     our cgroup namespace's root: its root field must start with "/" and not with "/..". A
//     mount made outside our cgroup namespace shows a root of "/.." and cannot be used.
//  3. Among usable candidates, the one mounting the most of the hierarchy wins: the shortest
//     root, so "/" (the hierarchy root) beats a bind mount of a sub-cgroup such as
//     "/kubepods/pod1". A sub-cgroup bind mount is used only when nothing better exists, and
//     then only for paths under it (CgroupMount.Dir).
//  4. Ties (the same hierarchy mounted twice, e.g. a bind mount of /sys/fs/cgroup/unified
//     elsewhere) go to the mount under /sys/fs/cgroup, then to the lowest mount id (mounted
//     first), then to the shortest mount point, so the choice is deterministic.
//
// Picking by position (first or last line) or by the longest mount point is wrong: mountinfo
// order follows mount history, which differs between machines and after remounts.
func FindCgroupMounts(r io.Reader) (*CgroupMounts, error) {
	var v2 []*CgroupMount
	v1 := map[string][]*CgroupMount{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		m, err := parseMountinfoLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", line, err)
		}
		if m == nil {
			continue
		}
		if m.Version == 2 {
			v2 = append(v2, m)
			continue
		}
		for _, c := range m.Controllers {
			v1[c] = append(v1[c], m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	out := &CgroupMounts{V2: best(v2), V1: map[string]*CgroupMount{}}
	for c, ms := range v1 {
		if b := best(ms); b != nil {
			out.V1[c] = b
		}
	}
	if out.V2 == nil && len(out.V1) == 0 {
		return nil, fmt.Errorf("no usable cgroup mount in mountinfo (is cgroupfs mounted in this mount namespace?)")
	}
	return out, nil
}

func usable(m *CgroupMount) bool {
	return strings.HasPrefix(m.Root, "/") && !strings.HasPrefix(m.Root, "/..")
}

func best(ms []*CgroupMount) *CgroupMount {
	var c []*CgroupMount
	for _, m := range ms {
		if usable(m) {
			c = append(c, m)
		}
	}
	if len(c) == 0 {
		return nil
	}
	sort.SliceStable(c, func(i, j int) bool {
		a, b := c[i], c[j]
		if la, lb := rootDepth(a.Root), rootDepth(b.Root); la != lb {
			return la < lb
		}
		if sa, sb := underSysFS(a.MountPoint), underSysFS(b.MountPoint); sa != sb {
			return sa
		}
		if a.MountID != b.MountID {
			return a.MountID < b.MountID
		}
		return len(a.MountPoint) < len(b.MountPoint)
	})
	return c[0]
}

func rootDepth(root string) int {
	if root == "/" {
		return 0
	}
	return strings.Count(root, "/")
}

func underSysFS(mp string) bool {
	return mp == "/sys/fs/cgroup" || strings.HasPrefix(mp, "/sys/fs/cgroup/")
}

// parseMountinfoLine parses one line of proc(5) mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// It returns nil for lines that are not cgroup mounts.
func parseMountinfoLine(l string) (*CgroupMount, error) {
	if strings.TrimSpace(l) == "" {
		return nil, nil
	}
	f := strings.Fields(l)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 7 || sep < 0 || sep+3 > len(f) {
		return nil, fmt.Errorf("malformed: %q", l)
	}
	fstype := f[sep+1]
	if fstype != "cgroup" && fstype != "cgroup2" {
		return nil, nil
	}
	id, err := strconv.Atoi(f[0])
	if err != nil {
		return nil, fmt.Errorf("malformed mount id in %q", l)
	}
	m := &CgroupMount{MountID: id, Root: unescapeOctal(f[3]), MountPoint: unescapeOctal(f[4]), Version: 2}
	if fstype == "cgroup" {
		m.Version = 1
		super := ""
		if sep+3 < len(f) {
			super = f[sep+3]
		}
		for _, o := range strings.Split(super, ",") {
			switch {
			case o == "rw" || o == "ro" || o == "" || strings.HasPrefix(o, "release_agent=") ||
				o == "clone_children" || o == "noprefix" || o == "xattr" || o == "cpuset_v2_mode" ||
				o == "favordynmods" || o == "nofavordynmods":
			case strings.HasPrefix(o, "name=") || !strings.Contains(o, "="):
				m.Controllers = append(m.Controllers, o)
			}
		}
		if len(m.Controllers) == 0 {
			return nil, nil
		}
	}
	return m, nil
}

// unescapeOctal undoes mountinfo's \040-style escapes of spaces, tabs, newlines and backslashes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
