package containers

import (
	"strings"
)

// CgroupInfo is what a cgroup path tells about the container in it.
type CgroupInfo struct {
	// ID is the container id (64 hex digits).
	ID string
	// Runtime is the engine the path's shape points to: "docker", "containerd", "cri-o",
	// "podman", or "" when the shape does not say.
	Runtime string
	// PodUID is the Kubernetes pod UID when the path is under a kubepods hierarchy.
	PodUID string
}

// scopePrefixes are the prefixes engines give a container's systemd scope (or cgroupfs leaf),
// with the runtime each implies.
var scopePrefixes = []struct{ prefix, runtime string }{
	{"cri-containerd-", "containerd"},
	{"containerd-", "containerd"},
	{"nerdctl-", "containerd"},
	{"docker-", "docker"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

// ParseCgroupPath extracts the container id from a cgroup path as found in /proc/<pid>/cgroup,
// e.g. "/system.slice/docker-<id>.scope" or "/kubepods/burstable/pod<uid>/<id>". It reports
// false for paths that hold no container (host services, sessions, conmon monitors).
//
// The rule: walk the path from its last component up, skipping the leaves engines add inside a
// container's cgroup ("container", "init.scope", "supervisor"); the first component that is a
// 64-hex id, bare or wrapped as "<prefix><id>[.scope]", is the container. The innermost id wins
// for nested containers.
func ParseCgroupPath(path string) (CgroupInfo, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		switch p {
		case "", "container", "init.scope", "supervisor":
			continue
		}
		id, runtime, ok := parseLeaf(p)
		if !ok {
			if strings.Contains(p, "-conmon-") {
				return CgroupInfo{}, false // a monitor process beside the container
			}
			continue
		}
		info := CgroupInfo{ID: id, Runtime: runtime}
		kube := false
		for _, q := range parts[:i] {
			kube = kube || strings.HasPrefix(q, "kubepods")
			info.fromAncestor(q, kube)
		}
		return info, true
	}
	return CgroupInfo{}, false
}

func parseLeaf(p string) (id, runtime string, ok bool) {
	p = strings.TrimSuffix(p, ".scope")
	if strings.Contains(p, "-conmon-") {
		return "", "", false
	}
	for _, sp := range scopePrefixes {
		if strings.HasPrefix(p, sp.prefix) {
			p, runtime = p[len(sp.prefix):], sp.runtime
			break
		}
	}
	if !isHexID(p) {
		return "", "", false
	}
	return p, runtime, true
}

// fromAncestor learns the runtime and pod from a parent component of the container's cgroup.
func (c *CgroupInfo) fromAncestor(q string, underKubepods bool) {
	switch {
	case q == "docker" && c.Runtime == "":
		c.Runtime = "docker"
	case q == "libpod_parent" && c.Runtime == "":
		c.Runtime = "podman"
	case underKubepods && strings.HasPrefix(q, "pod") && len(q) > 3 && !strings.Contains(q, "."):
		// cgroupfs driver: kubepods/<qos>/pod<uid>
		c.PodUID = q[3:]
	case strings.HasPrefix(q, "kubepods-") && strings.HasSuffix(q, ".slice"):
		// systemd driver: kubepods-<qos>-pod<uid with _ for ->.slice
		if i := strings.LastIndex(q, "-pod"); i >= 0 {
			c.PodUID = strings.ReplaceAll(strings.TrimSuffix(q[i+4:], ".slice"), "_", "-")
		}
	}
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
