package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/labels"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/gadgetry/gadgetry/runtime/containers"
)

// PodContainer is a running container of a pod on this node, as the container runtime (CRI)
// reports it, keyed by the mount namespace its events carry.
type PodContainer struct {
	// ID is the runtime's container id; Name the container's name in the pod spec.
	ID, Name string
	// Pod, Namespace and PodUID identify the pod.
	Pod, Namespace, PodUID string
	// Labels are the pod's labels (as the kubelet gave them to the runtime when it created the
	// pod); LabelsText is them as "k=v,k2=v2", sorted.
	Labels     map[string]string
	LabelsText string
	// Pid is the container's init process; MntNS its mount namespace.
	Pid   int
	MntNS uint64
}

// PodsOptions configure Pods.
type PodsOptions struct {
	// Socket is the container runtime's CRI socket (containerd's, CRI-O's).
	Socket string
	// ProcDir is where the node's processes are (/proc with hostPID).
	ProcDir string
	// Interval is how often the runtime is asked again when it sends no container events
	// (default 1s); with events (containerd 1.7+), a change is seen at once.
	Interval time.Duration
	// Linger keeps a container that stopped attributable (events still in flight) this long
	// (default 1 minute). It is no longer selected in the kernel.
	Linger time.Duration
	// Logf gets non-fatal problems.
	Logf func(format string, args ...any)
}

// Pods knows the pods' containers running on this node: it lists them from the container
// runtime at start and again on each of the runtime's container events (or every Interval
// without them), and tells watchers which containers started and stopped.
type Pods struct {
	opts PodsOptions
	conn *grpc.ClientConn
	rt   cri.RuntimeServiceClient

	snap atomic.Pointer[map[uint64]*PodContainer]

	mu      sync.Mutex // serialises refreshes and watcher calls
	byID    map[string]*PodContainer
	gone    map[uint64]goneContainer
	subs    map[int]func(c *PodContainer, running bool)
	nextSub int

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

type goneContainer struct {
	c     *PodContainer
	until time.Time
}

// NewPods connects to the container runtime's socket, lists the running containers once and
// keeps the list up to date until Close.
func NewPods(ctx context.Context, opts PodsOptions) (*Pods, error) {
	if opts.ProcDir == "" {
		opts.ProcDir = "/proc"
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Linger <= 0 {
		opts.Linger = time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if _, err := os.Stat(opts.Socket); err != nil {
		return nil, fmt.Errorf("container runtime socket %s: %w (mount the node's runtime socket into the daemon's container, or give its path with --runtime-socket)", opts.Socket, err)
	}
	conn, err := grpc.NewClient("unix://"+opts.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("container runtime socket %s: %w", opts.Socket, err)
	}
	p := &Pods{opts: opts, conn: conn, rt: cri.NewRuntimeServiceClient(conn), byID: map[string]*PodContainer{},
		gone: map[uint64]goneContainer{}, subs: map[int]func(*PodContainer, bool){}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	empty := map[uint64]*PodContainer{}
	p.snap.Store(&empty)
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := p.rt.Version(vctx, &cri.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("asking the container runtime at %s its version (CRI v1): %w", opts.Socket, err)
	}
	if err := p.refresh(vctx); err != nil {
		conn.Close()
		return nil, err
	}
	rctx, rcancel := context.WithCancel(context.Background())
	p.cancel = rcancel
	go p.events(rctx)
	go p.loop(rctx)
	return p, nil
}

// Close stops following the runtime.
func (p *Pods) Close() error {
	p.cancel()
	<-p.done
	return p.conn.Close()
}

// Lookup returns the container whose mount namespace is mntns (running, or stopped less than
// Linger ago), or nil.
func (p *Pods) Lookup(mntns uint64) *PodContainer {
	if c := (*p.snap.Load())[mntns]; c != nil {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if g, ok := p.gone[mntns]; ok {
		return g.c
	}
	return nil
}

// Running returns the running containers.
func (p *Pods) Running() []*PodContainer {
	return slices.Collect(maps.Values(*p.snap.Load()))
}

// Refresh lists the containers again now (a test that just started a pod calls it rather than
// waiting for the next event or interval).
func (p *Pods) Refresh(ctx context.Context) error { return p.refresh(ctx) }

func (p *Pods) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.refresh(rctx); err != nil && ctx.Err() == nil {
			p.opts.Logf("pods: %v", err)
		}
		cancel()
	}
}

// events follows the runtime's container events (CRI GetContainerEvents): each one makes the
// loop list again at once. A runtime without them (containerd before 1.7) is polled.
func (p *Pods) events(ctx context.Context) {
	for ctx.Err() == nil {
		stream, err := p.rt.GetContainerEvents(ctx, &cri.GetEventsRequest{})
		if err == nil {
			for {
				if _, err = stream.Recv(); err != nil {
					break
				}
				select {
				case p.kick <- struct{}{}:
				default:
				}
			}
		}
		if status.Code(err) == codes.Unimplemented || ctx.Err() != nil {
			return
		}
		select { // the runtime restarted, say: try again later
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// refresh lists the runtime's ready pods and running containers, works out the mount
// namespace of each new container, and tells watchers what started and stopped.
func (p *Pods) refresh(ctx context.Context) error {
	sbs, err := p.rt.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{Filter: &cri.PodSandboxFilter{
		State: &cri.PodSandboxStateValue{State: cri.PodSandboxState_SANDBOX_READY}}})
	if err != nil {
		return fmt.Errorf("listing pods from the container runtime (%s): %w", p.opts.Socket, err)
	}
	cs, err := p.rt.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
		State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		return fmt.Errorf("listing containers from the container runtime (%s): %w", p.opts.Socket, err)
	}
	pods := map[string]*cri.PodSandbox{}
	for _, sb := range sbs.Items {
		pods[sb.Id] = sb
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	next := map[string]*PodContainer{}
	for _, c := range cs.Containers {
		if old := p.byID[c.Id]; old != nil {
			next[c.Id] = old
			continue
		}
		sb := pods[c.PodSandboxId]
		if sb == nil || sb.Metadata == nil || c.Metadata == nil {
			continue // a container of no pod we know (not the kubelet's), or its pod is going
		}
		pid, err := p.containerPid(ctx, c.Id)
		if err != nil {
			p.opts.Logf("pods: container %s of pod %s/%s: %v", c.Metadata.Name, sb.Metadata.Namespace, sb.Metadata.Name, err)
			continue
		}
		mntns, err := readMntNS(p.opts.ProcDir, pid)
		if err != nil {
			continue // it just stopped
		}
		pc := &PodContainer{ID: c.Id, Name: c.Metadata.Name, Pod: sb.Metadata.Name, Namespace: sb.Metadata.Namespace,
			PodUID: sb.Metadata.Uid, Labels: podLabels(sb.Labels), Pid: pid, MntNS: mntns}
		pc.LabelsText = labelsText(pc.Labels)
		next[c.Id] = pc
	}
	var started, stopped []*PodContainer
	for id, c := range next {
		if p.byID[id] == nil {
			started = append(started, c)
		}
	}
	for id, c := range p.byID {
		if next[id] == nil {
			stopped = append(stopped, c)
		}
	}
	p.byID = next
	snap := map[uint64]*PodContainer{}
	for _, c := range next {
		snap[c.MntNS] = c
	}
	p.snap.Store(&snap)
	now := time.Now()
	for ns, g := range p.gone {
		if now.After(g.until) || snap[ns] != nil {
			delete(p.gone, ns)
		}
	}
	for _, c := range stopped {
		if snap[c.MntNS] == nil {
			p.gone[c.MntNS] = goneContainer{c, now.Add(p.opts.Linger)}
		}
	}
	ids := slices.Sorted(maps.Keys(p.subs))
	for _, c := range stopped {
		for _, id := range ids {
			p.subs[id](c, false)
		}
	}
	for _, c := range started {
		for _, id := range ids {
			p.subs[id](c, true)
		}
	}
	return nil
}

// containerPid asks the runtime for the container's init process (the verbose status's info,
// which containerd and CRI-O fill).
func (p *Pods) containerPid(ctx context.Context, id string) (int, error) {
	st, err := p.rt.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return 0, fmt.Errorf("container status: %w", err)
	}
	var info struct {
		Pid int `json:"pid"`
	}
	if s := st.Info["info"]; s != "" {
		_ = json.Unmarshal([]byte(s), &info)
	}
	if info.Pid <= 0 {
		return 0, errors.New("the container runtime does not say its init process (no pid in its verbose status)")
	}
	return info.Pid, nil
}

// watch calls fn for every container that starts or stops from now on and returns the running
// ones, atomically with that.
func (p *Pods) watch(fn func(c *PodContainer, running bool)) (current []*PodContainer, cancel func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.byID {
		current = append(current, c)
	}
	id := p.nextSub
	p.nextSub++
	p.subs[id] = fn
	return current, func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// kubeletLabels are the labels the kubelet adds to a pod's sandbox beside the pod's own.
var kubeletLabels = []string{"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid"}

func podLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if !slices.Contains(kubeletLabels, k) {
			out[k] = v
		}
	}
	return out
}

func labelsText(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func readMntNS(procDir string, pid int) (uint64, error) {
	l, err := os.Readlink(procDir + "/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return 0, err
	}
	// "mnt:[4026531841]"
	s := strings.TrimSuffix(strings.TrimPrefix(l, "mnt:["), "]")
	return strconv.ParseUint(s, 10, 64)
}

// Selection is a parsed pod selection (api/v1 Selection).
type Selection struct {
	// Namespaces: empty means any.
	Namespaces []string
	Pod        string
	Labels     labels.Selector
	Containers containers.Selector
}

// ParseSelection checks and parses a selection; an error is the client's (invalid argument).
func ParseSelection(namespaces []string, all bool, pod, labelSelector, containerNames string) (Selection, error) {
	var s Selection
	if !all {
		s.Namespaces = namespaces
	}
	s.Pod = pod
	if labelSelector != "" {
		sel, err := labels.Parse(labelSelector)
		if err != nil {
			return s, fmt.Errorf("-l %q: %w", labelSelector, err)
		}
		s.Labels = sel
	}
	cs, err := containers.ParseSelector(containerNames)
	if err != nil {
		return s, fmt.Errorf("-c: %w", err)
	}
	s.Containers = cs
	return s, nil
}

// Match reports whether container c is selected.
func (s Selection) Match(c *PodContainer) bool {
	if c == nil {
		return false
	}
	if len(s.Namespaces) > 0 && !slices.Contains(s.Namespaces, c.Namespace) {
		return false
	}
	if s.Pod != "" && s.Pod != c.Pod {
		return false
	}
	if s.Labels != nil && !s.Labels.Matches(labels.Set(c.Labels)) {
		return false
	}
	if s.Containers.Filters() {
		ct := &containers.Container{ID: c.ID, Name: c.Name, K8s: containers.K8s{Namespace: c.Namespace, Pod: c.Pod, Container: c.Name, PodUID: c.PodUID}}
		return s.Containers.Match(ct)
	}
	return true
}

// String describes the selection for messages.
func (s Selection) String() string {
	var parts []string
	if len(s.Namespaces) == 0 {
		parts = append(parts, "any namespace")
	} else {
		parts = append(parts, "namespace "+strings.Join(s.Namespaces, ","))
	}
	if s.Pod != "" {
		parts = append(parts, "pod "+s.Pod)
	}
	if s.Labels != nil && !s.Labels.Empty() {
		parts = append(parts, "labels "+s.Labels.String())
	}
	if s.Containers.Filters() {
		parts = append(parts, "containers "+s.Containers.String())
	}
	return strings.Join(parts, ", ")
}

// podSelection is a Selection over Pods' containers: a runtime.MntnsSelection.
type podSelection struct {
	pods *Pods
	sel  Selection
}

// Select returns the mount namespace selection of sel on this node, for
// runtime.SelectionHooks.
func (p *Pods) Select(sel Selection) *podSelection { return &podSelection{p, sel} }

func (s *podSelection) Selected(mntns uint64) bool { return s.sel.Match(s.pods.Lookup(mntns)) }

func (s *podSelection) Watch(fn func(mntns uint64, selected bool)) ([]uint64, func()) {
	cur, cancel := s.pods.watch(func(c *PodContainer, running bool) {
		if s.sel.Match(c) {
			fn(c.MntNS, running)
		}
	})
	var out []uint64
	for _, c := range cur {
		if s.sel.Match(c) {
			out = append(out, c.MntNS)
		}
	}
	return out, cancel
}

// count returns how many running containers the selection matches.
func (s *podSelection) count() int {
	n := 0
	for _, c := range s.pods.Running() {
		if s.sel.Match(c) {
			n++
		}
	}
	return n
}
