package containers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// stateKind says which file holds a container's state under a state root.
type stateKind int

const (
	// runcState: <root>/<id>/state.json written by runc (libcontainer).
	runcState stateKind = iota
	// taskBundle: <root>/<id>/config.json and init.pid, containerd's v2 task bundles.
	taskBundle
)

// stateRoot is a directory a runtime keeps per-container state in.
type stateRoot struct {
	dir string
	// nsDepth is the number of directory levels between dir and the per-container
	// directories: 0 for a runc root, 1 for containerd's <root>/<namespace>/<id>.
	nsDepth int
	kind    stateKind
	runtime string
}

// trigger is the file whose appearance means the container's state is ready to read.
func (r stateRoot) trigger() string {
	if r.kind == taskBundle {
		return "init.pid"
	}
	return "state.json"
}

// defaultRoots are where the common engines keep runc state and task bundles.
func defaultRoots() []stateRoot {
	return []stateRoot{
		{dir: "/run/runc", runtime: "runc"}, // runc, CRI-O, podman (root)
		{dir: "/run/containerd/runc", nsDepth: 1, runtime: "containerd"},
		{dir: "/run/docker/runtime-runc", nsDepth: 1, runtime: "docker"},
		{dir: "/run/containerd/io.containerd.runtime.v2.task", nsDepth: 1, kind: taskBundle, runtime: "containerd"},
	}
}

// containerDirs lists the per-container directories under r that exist now.
func (r stateRoot) containerDirs() []string {
	dirs := []string{r.dir}
	for i := 0; i <= r.nsDepth; i++ {
		var next []string
		for _, d := range dirs {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() {
					next = append(next, filepath.Join(d, e.Name()))
				}
			}
		}
		dirs = next
	}
	return dirs
}

// readState reads one container directory of root r.
func (r stateRoot) readState(dir string) (*meta, error) {
	if r.kind == taskBundle {
		return readTaskBundle(dir, r.runtime)
	}
	return readRuncState(dir, r.runtime)
}

// runcStateFile is the part of runc's state.json we use.
type runcStateFile struct {
	ID      string `json:"id"`
	Pid     int    `json:"init_process_pid"`
	Start   uint64 `json:"init_process_start"`
	Created string `json:"created"` // RFC 3339
	Config  struct {
		Labels   []string `json:"labels"`
		Hostname string   `json:"hostname"`
	} `json:"config"`
	CgroupPaths map[string]string `json:"cgroup_paths"`
}

func readRuncState(dir, runtime string) (*meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var st runcStateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parsing %s/state.json: %w", dir, err)
	}
	if st.ID == "" {
		st.ID = filepath.Base(dir)
	}
	m := &meta{id: st.ID, pid: st.Pid, pidStart: st.Start, hostname: st.Config.Hostname, runtime: runtime}
	if t, err := time.Parse(time.RFC3339Nano, st.Created); err == nil && t.Year() > 1970 {
		m.created = t
	}
	// runc stores the bundle's annotations as "key=value" labels, plus "bundle=<dir>".
	ann := map[string]string{}
	for _, l := range st.Config.Labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "bundle" {
			continue
		}
		ann[k] = v
	}
	m.fromAnnotations(ann)
	if runtime == "docker" {
		m.fromDocker()
	}
	return m, nil
}

// ociConfig is the part of an OCI runtime config.json we use.
type ociConfig struct {
	Hostname    string            `json:"hostname"`
	Annotations map[string]string `json:"annotations"`
}

func readTaskBundle(dir, runtime string) (*meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var cfg ociConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parsing %s/config.json: %w", dir, err)
	}
	m := &meta{id: filepath.Base(dir), hostname: cfg.Hostname, runtime: runtime}
	if p, err := os.ReadFile(filepath.Join(dir, "init.pid")); err == nil {
		m.pid, _ = strconv.Atoi(strings.TrimSpace(string(p)))
	}
	if cfg.Annotations == nil {
		cfg.Annotations = map[string]string{}
	}
	m.fromAnnotations(cfg.Annotations)
	return m, nil
}

// fromDocker reads the name and image docker keeps in its own config (docker does not put
// them in the OCI bundle).
func (m *meta) fromDocker() {
	b, err := os.ReadFile(filepath.Join("/var/lib/docker/containers", m.id, "config.v2.json"))
	if err != nil {
		return
	}
	var cfg struct {
		Name   string `json:"Name"`
		Config struct {
			Image string `json:"Image"`
		} `json:"Config"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return
	}
	if m.k8s.Container == "" && cfg.Name != "" {
		m.name = strings.TrimPrefix(cfg.Name, "/")
	}
	if m.image == "" {
		m.image = cfg.Config.Image
	}
}
