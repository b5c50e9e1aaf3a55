package containers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// readMntNS returns the mount namespace inode of pid ("self" for this process).
func readMntNS(pid string) (uint64, error) { return readNS(pid, "mnt") }

// readNS returns the inode of pid's namespace of type typ ("mnt", "net").
func readNS(pid, typ string) (uint64, error) {
	l, err := os.Readlink("/proc/" + pid + "/ns/" + typ)
	if err != nil {
		return 0, err
	}
	v := parseNSLink(l)
	if v == 0 {
		return 0, fmt.Errorf("unexpected namespace link %q", l)
	}
	return v, nil
}

// parseNSLink turns "mnt:[4026531840]" into 4026531840 (0 when malformed).
func parseNSLink(l string) uint64 {
	i, j := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
	if i < 0 || j < i {
		return 0
	}
	v, _ := strconv.ParseUint(l[i+1:j], 10, 64)
	return v
}

// procCgroups is /proc/<pid>/cgroup: the unified path and the v1 paths.
type procCgroups struct {
	unified string            // "" when absent
	v1      map[string]string // controller → path
}

func readProcCgroups(pid string) (procCgroups, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return procCgroups{}, err
	}
	return parseProcCgroups(b), nil
}

func parseProcCgroups(b []byte) procCgroups {
	pc := procCgroups{v1: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			pc.unified = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			pc.v1[c] = parts[2]
		}
	}
	return pc
}

// containerCgroup returns the path to parse for a container id and the id it gives: the
// unified path first, then name=systemd, memory, and any other v1 hierarchy.
func (pc procCgroups) containerCgroup() (string, CgroupInfo, bool) {
	cands := []string{pc.unified, pc.v1["name=systemd"], pc.v1["memory"], pc.v1["pids"]}
	for _, p := range pc.v1 {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if p == "" {
			continue
		}
		if info, ok := ParseCgroupPath(p); ok {
			return p, info, true
		}
	}
	return "", CgroupInfo{}, false
}

// bestPath is the path to show for a process's cgroup: unified when not the root, else v1.
func (pc procCgroups) bestPath() string {
	if pc.unified != "" && pc.unified != "/" {
		return pc.unified
	}
	for _, c := range []string{"name=systemd", "memory", "pids"} {
		if p := pc.v1[c]; p != "" {
			return p
		}
	}
	return pc.unified
}

// cgroupID returns the cgroup v2 id of a unified-hierarchy path: the inode of its directory.
func cgroupID(mounts *CgroupMounts, unifiedPath string) uint64 {
	if mounts == nil || mounts.V2 == nil || unifiedPath == "" {
		return 0
	}
	dir, ok := mounts.V2.Dir(unifiedPath)
	if !ok {
		return 0
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0
	}
	return st.Ino
}

// listPids returns the numeric entries of /proc.
func listPids() ([]string, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if n != "" && n[0] >= '1' && n[0] <= '9' {
			out = append(out, n)
		}
	}
	return out, nil
}

// procStartTime returns field 22 of /proc/<pid>/stat (start time in clock ticks since boot),
// or 0 when the process is gone.
func procStartTime(pid string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture.
const clockTicks = 100

// procStarted returns when process pid started (wall clock), or the zero time when it is gone
// or /proc/stat has no boot time.
func procStarted(pid string) time.Time {
	ticks := procStartTime(pid)
	boot := bootTime()
	if ticks == 0 || boot.IsZero() {
		return time.Time{}
	}
	return boot.Add(time.Duration(ticks) * (time.Second / clockTicks))
}

var (
	bootOnce sync.Once
	boot     time.Time
)

// bootTime is the btime line of /proc/stat (seconds since the epoch), read once.
func bootTime() time.Time {
	bootOnce.Do(func() {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "btime "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					boot = time.Unix(n, 0)
				}
			}
		}
	})
	return boot
}
