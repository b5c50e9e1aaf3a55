package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// Pod selection on a node without a cluster: the daemon asks a container runtime's CRI socket
// which pods run; here the test serves that socket itself, describing "pods" whose containers
// are real processes in mount namespaces of their own (unshare -m), each execing /bin/true in
// a loop. The cluster's tests (k8sclient, make test-k8s) do the same with containerd.

// fakeRuntime answers the CRI calls the daemon makes from a list of pods the test changes.
type fakeRuntime struct {
	cri.UnimplementedRuntimeServiceServer
	mu   sync.Mutex
	pods map[string]*fakePod // by sandbox id
	// lists counts ListContainers calls: the daemon's refreshes.
	lists atomic.Int64
}

type fakePod struct {
	name, ns string
	labels   map[string]string
	pid      int
}

func (f *fakeRuntime) Version(context.Context, *cri.VersionRequest) (*cri.VersionResponse, error) {
	return &cri.VersionResponse{Version: "0.1.0", RuntimeName: "fake", RuntimeVersion: "1", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) ListPodSandbox(context.Context, *cri.ListPodSandboxRequest) (*cri.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*cri.PodSandbox
	for id, p := range f.pods {
		labels := map[string]string{"io.kubernetes.pod.name": p.name, "io.kubernetes.pod.namespace": p.ns}
		for k, v := range p.labels {
			labels[k] = v
		}
		out = append(out, &cri.PodSandbox{Id: id, State: cri.PodSandboxState_SANDBOX_READY, Labels: labels,
			Metadata: &cri.PodSandboxMetadata{Name: p.name, Namespace: p.ns, Uid: "uid-" + id}})
	}
	return &cri.ListPodSandboxResponse{Items: out}, nil
}

func (f *fakeRuntime) ListContainers(context.Context, *cri.ListContainersRequest) (*cri.ListContainersResponse, error) {
	f.lists.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*cri.Container
	for id := range f.pods {
		out = append(out, &cri.Container{Id: "c-" + id, PodSandboxId: id, State: cri.ContainerState_CONTAINER_RUNNING,
			Metadata: &cri.ContainerMetadata{Name: "main"}})
	}
	return &cri.ListContainersResponse{Containers: out}, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, req *cri.ContainerStatusRequest) (*cri.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pods[req.ContainerId[len("c-"):]]
	if p == nil {
		return nil, fmt.Errorf("no container %s", req.ContainerId)
	}
	return &cri.ContainerStatusResponse{Status: &cri.ContainerStatus{Id: req.ContainerId},
		Info: map[string]string{"info": `{"pid":` + strconv.Itoa(p.pid) + `}`}}, nil
}

// addPod starts a process in a mount namespace of its own that execs /bin/true in a loop, and
// lists it as the one container of pod ns/name.
func (f *fakeRuntime) addPod(t *testing.T, ns, name string, labels map[string]string) {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", "while true; do /bin/true; sleep 0.1; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	f.mu.Lock()
	f.pods[ns+"-"+name] = &fakePod{name: name, ns: ns, labels: labels, pid: cmd.Process.Pid}
	f.mu.Unlock()
}

// removePod stops listing pod ns/name, as the runtime does once a pod ended (its process is
// left running: whether its events still show is up to the daemon's selection).
func (f *fakeRuntime) removePod(ns, name string) {
	f.mu.Lock()
	delete(f.pods, ns+"-"+name)
	f.mu.Unlock()
}

// pid returns the process id of pod ns/name's container.
func (f *fakeRuntime) pid(ns, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pods[ns+"-"+name].pid
}

// waitRefreshed waits until the daemon has listed the containers twice more: a refresh that
// started after the caller's change has then completed (hang guard: a minute).
func (f *fakeRuntime) waitRefreshed(t *testing.T) {
	t.Helper()
	want := f.lists.Load() + 2
	deadline := time.Now().Add(time.Minute)
	for f.lists.Load() < want {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not list the containers again within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serveFakeRuntime(t *testing.T) (*fakeRuntime, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRuntime{pods: map[string]*fakePod{}}
	s := grpc.NewServer()
	cri.RegisterRuntimeServiceServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return f, sock
}

// TestDaemonPodSelection: -n and -p select one pod's container, filtered in the kernel
// (nothing read from the kernel is dropped in user space, though the other pod and the host
// exec as much); -l selects by label and picks up a pod that starts during the run; events
// carry the pod's namespace, name, container and labels; a pod that ends is dropped.
func TestDaemonPodSelection(t *testing.T) {
	bin := k8sTestBinary(t)
	gadgettest.RequireTool(t, "unshare")
	gadgettest.RequireTool(t, "nsenter")
	f, sock := serveFakeRuntime(t)
	f.addPod(t, "shop", "web", map[string]string{"app": "web"})
	f.addPod(t, "shop", "db", map[string]string{"app": "db"})
	d := startDaemonWith(t, bin, "node-a", sock)

	run := gadgettest.StartCLI(t, nil, bin, "run", "trace_exec", "--daemons", d.addr, "-n", "shop", "-p", "web", "-o", "json")
	inPod := func(pod string) func(gadgettest.Event) bool {
		return func(e gadgettest.Event) bool { return e.Str("k8s.podName") == pod }
	}
	ev := run.WaitFor("an exec in pod web", func(e gadgettest.Event) bool { return inPod("web")(e) && e.Str("proc.comm") == "true" }, nil)
	for k, want := range map[string]string{"k8s.node": "node-a", "k8s.namespace": "shop", "k8s.containerName": "main", "k8s.podLabels": "app=web"} {
		if got := ev.Str(k); got != want {
			t.Errorf("%s = %q, want %q: %v", k, got, want, ev)
		}
	}
	n := 0 // db execs as often: ten of web's leave it time to show
	run.WaitFor("ten execs in web", func(e gadgettest.Event) bool {
		if inPod("web")(e) {
			n++
		}
		return n >= 10
	}, nil)
	s := run.Stop()
	if other := run.Matching(func(e gadgettest.Event) bool { return !inPod("web")(e) }); len(other) > 0 {
		t.Errorf("%d events from outside pod web, e.g. %v", len(other), other[0])
	}
	nodes, _ := s["nodes"].(map[string]any)
	na, _ := nodes["node-a"].(map[string]any)
	c, _ := na["dataSources"].(map[string]any)["exec"].(map[string]any)
	if dropped, _ := c["dropped"].(float64); dropped != 0 {
		t.Errorf("%v records were read from the kernel and dropped in user space: the selection did not filter in the kernel (%v)", dropped, s)
	}

	run = gadgettest.StartCLI(t, nil, bin, "run", "trace_exec", "--daemons", d.addr, "-n", "shop", "-l", "app=web", "-o", "json")
	run.WaitFor("an exec in pod web", inPod("web"), nil)
	f.addPod(t, "shop", "web2", map[string]string{"app": "web"})
	run.WaitFor("an exec in pod web2, started during the run", inPod("web2"), nil)
	// web2 ends (for the runtime): once the daemon has seen it, its execs no longer show. The
	// cut is an exec inside pod web, made after that: an event of web2 stamped later than the
	// cut's passed a filter that should no longer have let it (timestamps, not pids, order
	// execs: pids wrap at pid_max, 32768 on some hosts).
	f.removePod("shop", "web2")
	f.waitRefreshed(t)
	marker := "gadgetry-cut-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("nsenter", "-t", strconv.Itoa(f.pid("shop", "web")), "-m", "/bin/true", marker).CombinedOutput(); err != nil {
		t.Fatalf("nsenter into pod web: %v: %s", err, out)
	}
	cutAt := run.WaitFor("the cut, an exec in pod web", func(e gadgettest.Event) bool {
		args := e.List("args")
		return inPod("web")(e) && len(args) == 2 && args[1] == marker
	}, nil).Time("timestamp")
	n = 0
	run.WaitFor("five execs in web after the cut", func(e gadgettest.Event) bool {
		if inPod("web")(e) && e.Time("timestamp").After(cutAt) {
			n++
		}
		return n >= 5
	}, nil)
	run.Stop()
	if late := run.Matching(func(e gadgettest.Event) bool { return inPod("web2")(e) && e.Time("timestamp").After(cutAt) }); len(late) > 0 {
		t.Errorf("pod web2 still shown after it ended: %v", late[0])
	}
	if db := run.Matching(inPod("db")); len(db) > 0 {
		t.Errorf("events of pod db (app=db) with -l app=web: %v", db[0])
	}
}
