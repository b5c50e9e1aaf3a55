package containers

import "time"

// Container is what the cache knows about one container. Values are immutable snapshots: when
// the cache learns more (a name, that it stopped) it stores a new Container.
type Container struct {
	// ID is the runtime's container id (64 hex digits for engines; any string for plain runc).
	ID string
	// Name is the human name: the Kubernetes container name, the engine's name, or the id.
	Name string
	// Runtime is "runc", "containerd", "docker", "cri-o" or "podman" when known.
	Runtime string
	// Image is the image reference when the runtime records it.
	Image string
	// Hostname is the container's UTS hostname from its OCI config.
	Hostname string
	// Pid is the init process as seen from the host (0 when unknown).
	Pid int
	// StartedAt is when the container was created (runc's state), else when its init process
	// started; zero when unknown.
	StartedAt time.Time
	// HostNetwork is true when the container's init shares this process's network namespace
	// (a pod with hostNetwork: true, a container run with --net=host).
	HostNetwork bool
	// MntNS is the inode number of the container's mount namespace: the key events carry.
	MntNS uint64
	// CgroupPath is the container's cgroup path (unified hierarchy when mounted).
	CgroupPath string
	// CgroupID is the cgroup v2 id (the inode of its directory on cgroup2), the value
	// bpf_get_current_cgroup_id returns; 0 when there is no unified hierarchy.
	CgroupID uint64
	// K8s holds Kubernetes metadata, empty outside Kubernetes.
	K8s K8s
	// Annotations are the OCI annotations of the container's bundle, when read. Shared
	// between snapshots: do not modify.
	Annotations map[string]string
	// Stopped is true once the runtime removed the container; the cache keeps it a little
	// longer (Options.Linger) so late events are still attributed.
	Stopped bool

	enc encoded
}

// K8s is the Kubernetes identity of a container.
type K8s struct {
	// Namespace is the pod's namespace.
	Namespace string
	// Pod is the pod's name.
	Pod string
	// Container is the container's name in the pod spec.
	Container string
	// PodUID is the pod's UID, from annotations or the kubepods cgroup path.
	PodUID string
	// Sandbox is true for the pod's sandbox ("pause") container.
	Sandbox bool
}

// encoded holds the enrichment values as bytes so enriching an event does not allocate.
type encoded struct {
	id, name, runtime, image, hostname, k8sNS, k8sPod, k8sContainer []byte
	pid, startedAt, hostNetwork                                     uint64
}

func (c *Container) encode() {
	c.enc = encoded{
		id: []byte(c.ID), name: []byte(c.Name), runtime: []byte(c.Runtime),
		image: []byte(c.Image), hostname: []byte(c.Hostname), k8sNS: []byte(c.K8s.Namespace),
		k8sPod: []byte(c.K8s.Pod), k8sContainer: []byte(c.K8s.Container),
		pid: uint64(uint32(c.Pid)),
	}
	if !c.StartedAt.IsZero() {
		c.enc.startedAt = uint64(c.StartedAt.UnixNano())
	}
	if c.HostNetwork {
		c.enc.hostNetwork = 1
	}
}

// meta is what a runtime's state says about a container, before its mount namespace is known.
type meta struct {
	id, runtime, image, hostname, name string
	pid                                int
	pidStart                           uint64 // the init's start time (clock ticks), 0 if unknown
	created                            time.Time
	cgroupPath                         string
	cgroupID                           uint64
	k8s                                K8s
	annotations                        map[string]string
}

// annotation keys, in order of preference, per piece of metadata.
var (
	annName = []string{"io.kubernetes.cri.container-name", "io.kubernetes.container.name",
		"nerdctl/name"}
	annK8sContainer = []string{"io.kubernetes.cri.container-name", "io.kubernetes.container.name"}
	annK8sPod       = []string{"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"}
	annK8sNamespace = []string{"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"}
	annK8sPodUID    = []string{"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"}
	annImage        = []string{"io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName",
		"io.kubernetes.cri-o.Image"}
	annType = []string{"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType",
		"io.kubernetes.docker.type"}
)

func first(ann map[string]string, keys []string) string {
	for _, k := range keys {
		if v := ann[k]; v != "" {
			return v
		}
	}
	return ""
}

// fromAnnotations fills m from OCI annotations; runtime is the state root's guess, refined by
// the annotations' vendor prefixes.
func (m *meta) fromAnnotations(ann map[string]string) {
	m.annotations = ann
	m.k8s = K8s{
		Namespace: first(ann, annK8sNamespace),
		Pod:       first(ann, annK8sPod),
		Container: first(ann, annK8sContainer),
		PodUID:    first(ann, annK8sPodUID),
	}
	if t := first(ann, annType); t == "sandbox" || t == "podsandbox" {
		m.k8s.Sandbox = true
	}
	if m.image == "" {
		m.image = first(ann, annImage)
	}
	if n := first(ann, annName); n != "" {
		m.name = n
	} else if m.k8s.Sandbox && m.k8s.Pod != "" {
		m.name = m.k8s.Pod
	}
	for k, v := range ann {
		switch {
		case len(k) > 20 && k[:20] == "io.kubernetes.cri-o.":
			m.runtime = "cri-o"
		case k == "io.container.manager" && v == "libpod":
			m.runtime = "podman"
		case len(k) > 18 && k[:18] == "io.kubernetes.cri." && m.runtime != "cri-o":
			m.runtime = "containerd"
		}
	}
}

// container builds the Container for mount namespace mntns.
func (m *meta) container(mntns uint64) *Container {
	c := &Container{
		ID: m.id, Name: m.name, Runtime: m.runtime, Image: m.image, Hostname: m.hostname,
		Pid: m.pid, StartedAt: m.created, MntNS: mntns, CgroupPath: m.cgroupPath, K8s: m.k8s, Annotations: m.annotations,
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	return c
}
