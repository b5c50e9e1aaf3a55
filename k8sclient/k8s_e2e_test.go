package k8sclient_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gadgetry/gadgetry/internal/k8stest"
	"github.com/gadgetry/gadgetry/internal/selfimage"
	"github.com/gadgetry/gadgetry/k8sclient"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// The end-to-end tests on the real single-node cluster of internal/k8stest (make
// test-k8s): deploy → trace_exec selecting one of two pods (only its events, filtered in the
// kernel) → a pod started mid-run is picked up → block_exec in one pod → fan-out to the
// cluster's daemon and a second one outside the cluster, merged, the second killed mid-run →
// the daemon's pod deleted mid-run (the client says so and ends) → undeploy. The client is the gadgetry binary
// run by the cluster's kubectl as its plugin (kubectl-gadgetry on PATH).

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

// workloadImage is a busybox image (Debian's static busybox as /bin/sh, /bin/true, /bin/sleep)
// for the test's pods, imported into the node once.
const workloadImage = "gadgetry.test/busybox:1"

var workload struct {
	once sync.Once
	err  error
}

func importWorkloadImage(t *testing.T) {
	t.Helper()
	workload.once.Do(func() {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			workload.err = fmt.Errorf("busybox (busybox-static, scripts/setup.sh): %w", err)
			return
		}
		if err := selfimage.CheckStatic("/bin/busybox"); err != nil {
			workload.err = err
			return
		}
		spec := selfimage.Spec{Entrypoint: []string{"/bin/sh"}}
		for _, n := range []string{"sh", "true", "sleep", "cat"} {
			spec.Files = append(spec.Files, selfimage.File{Path: "/bin/" + n, Mode: 0o755, Data: bb})
		}
		img, err := selfimage.Build(context.Background(), spec)
		if err != nil {
			workload.err = err
			return
		}
		tarball := filepath.Join(os.TempDir(), "gadgetry-busybox-image.tar")
		f, err := os.Create(tarball)
		if err != nil {
			workload.err = err
			return
		}
		defer os.Remove(tarball)
		if err := img.WriteTar(context.Background(), workloadImage, f); err != nil {
			f.Close()
			workload.err = err
			return
		}
		if workload.err = f.Close(); workload.err == nil {
			k8stest.ImportImage(t, tarball)
		}
	})
	if workload.err != nil {
		t.Fatal(workload.err)
	}
}

// e2e is one end-to-end test's cluster, client and namespace.
type e2e struct {
	t          *testing.T
	info       *k8stest.Info
	cs         kubernetes.Interface
	bin        string   // the gadgetry binary
	kubectl    string   // the cluster's kubectl
	env        []string // KUBECONFIG, and PATH with kubectl-gadgetry
	ns         string
	daemonNode string
}

func setup(t *testing.T) *e2e {
	info := k8stest.Get(t)
	e := &e2e{t: t, info: info, cs: k8stest.Clientset(t), kubectl: filepath.Join(info.Bin, "kubectl")}
	img := k8stest.GadgetryImage(t)
	importWorkloadImage(t)
	e.bin = gadgettest.CLI(t)
	plugins := t.TempDir()
	if err := os.Symlink(e.bin, filepath.Join(plugins, "kubectl-gadgetry")); err != nil {
		t.Fatal(err)
	}
	e.env = []string{"KUBECONFIG=" + info.Kubeconfig, "PATH=" + plugins + ":" + os.Getenv("PATH")}
	// Deploy, and undeploy at the end: nothing is left.
	e.gadgetry("deploy", "--kubeconfig", info.Kubeconfig, "--image", img, "--image-pull-policy", "Never", "--runtime-socket", info.Containerd)
	t.Cleanup(func() {
		e.gadgetry("undeploy", "--kubeconfig", info.Kubeconfig)
		if _, err := e.cs.CoreV1().Namespaces().Get(context.Background(), k8sclient.DaemonNamespace, metav1.GetOptions{}); err == nil {
			t.Errorf("namespace %s still exists after undeploy", k8sclient.DaemonNamespace)
		}
	})
	var r [4]byte
	_, _ = rand.Read(r[:])
	e.ns = "gtest-" + hex.EncodeToString(r[:])
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = e.cs.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	return e
}

// gadgetry runs the gadgetry binary and fails the test when it fails.
func (e *e2e) gadgetry(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), e.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("gadgetry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// plugin starts `kubectl gadgetry ARGS -o json`: kubectl execs kubectl-gadgetry.
func (e *e2e) plugin(args ...string) *gadgettest.CLIRun {
	e.t.Helper()
	return gadgettest.StartCLI(e.t, e.env, e.kubectl, append(append([]string{"gadgetry"}, args...), "-o", "json")...)
}

// hostDaemon starts `gadgetry daemon` on this host, outside the cluster, with the cluster's
// containerd as its runtime; it returns its address and what kills it (the test's end does,
// too).
func (e *e2e) hostDaemon(node string) (string, func()) {
	e.t.Helper()
	cmd := exec.Command(e.bin, "daemon", "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "",
		"--node-name", node, "--runtime-socket", e.info.Containerd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	e.t.Cleanup(stop)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "gRPC on "); ok {
				a, _, _ := strings.Cut(rest, ",")
				addr <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return a, stop
	case <-time.After(time.Minute):
		e.t.Fatal("the daemon outside the cluster did not serve within a minute")
	}
	return "", stop
}

// pod starts a busybox pod that runs script, with labels, and waits until it runs.
func (e *e2e) pod(name string, labels map[string]string, script string) {
	e.t.Helper()
	zero := int64(0)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: labels},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{
			Name: "main", Image: workloadImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/bin/sh", "-c", script}}}}}
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Pods(e.ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.waitPod(e.ns, name, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
}

// waitPod waits until the pod satisfies ok (two minutes at most: a hang guard).
func (e *e2e) waitPod(ns, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := e.cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("pod %s/%s: not as expected after two minutes: %v %v", ns, name, err, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loop is a pod script that execs /bin/true five times a second.
const loop = "while true; do /bin/true; sleep 0.2; done"

func inPod(pod string) func(gadgettest.Event) bool {
	return func(e gadgettest.Event) bool { return e.Str("k8s.podName") == pod }
}

func execOf(pod, comm string) func(gadgettest.Event) bool {
	return func(e gadgettest.Event) bool { return inPod(pod)(e) && e.Str("proc.comm") == comm }
}

func TestK8sEndToEnd(t *testing.T) {
	e := setup(t)
	e.pod("web", map[string]string{"app": "web"}, loop)
	e.pod("db", map[string]string{"app": "db"}, loop)
	node := e.info.Node

	t.Run("one pod, filtered in the kernel", func(t *testing.T) {
		e.t = t
		run := e.plugin("run", "trace_exec", "-n", e.ns, "-p", "web")
		first := run.WaitFor("an exec in pod web", execOf("web", "true"), nil)
		for k, want := range map[string]string{"k8s.node": node, "k8s.namespace": e.ns, "k8s.containerName": "main", "k8s.podLabels": "app=web"} {
			if got := first.Str(k); got != want {
				t.Errorf("%s = %q, want %q: %v", k, got, want, first)
			}
		}
		// Enough of web's execs that db's, five a second too, would have shown.
		n := 0
		run.WaitFor("ten execs in web", func(ev gadgettest.Event) bool {
			if inPod("web")(ev) {
				n++
			}
			return n >= 10
		}, nil)
		s := run.Stop()
		if other := run.Matching(func(ev gadgettest.Event) bool { return !inPod("web")(ev) }); len(other) > 0 {
			t.Errorf("%d events from elsewhere than pod web, e.g. %v", len(other), other[0])
		}
		counts := nodeCounts(t, s, node, "exec")
		// In the kernel: nothing was read and then dropped in user space.
		if counts["dropped"] != 0 || counts["events"] < float64(len(run.Matching(inPod("web")))) {
			t.Errorf("node %s counts %v for %d events shown: events outside the selection reached user space", node, counts, len(run.Matching(inPod("web"))))
		}
	})

	t.Run("labels, and a pod started mid-run", func(t *testing.T) {
		e.t = t
		run := e.plugin("run", "trace_exec", "-n", e.ns, "-l", "app=web")
		run.WaitFor("an exec in pod web", execOf("web", "true"), nil)
		e.pod("web2", map[string]string{"app": "web"}, loop)
		run.WaitFor("an exec in pod web2, started after the run", execOf("web2", "true"), nil)
		run.Stop()
		if db := run.Matching(inPod("db")); len(db) > 0 {
			t.Errorf("events from pod db (app=db): %v", db[0])
		}
	})

	t.Run("block_exec in one pod", func(t *testing.T) {
		e.t = t
		run := e.plugin("run", "block_exec", "-n", e.ns, "-p", "web", "--deny-paths=/bin/true", "--node", node)
		ev := run.WaitFor("a decision in pod web", func(ev gadgettest.Event) bool {
			return inPod("web")(ev) && strings.HasSuffix(ev.Str("exepath"), "/true")
		}, nil)
		if a := ev.Str("action"); a != "killed" && a != "denied" {
			t.Errorf("action = %q, want killed or denied: %v", a, ev)
		}
		run.Stop()
		if db := run.Matching(inPod("db")); len(db) > 0 {
			t.Errorf("decisions in pod db, not selected: %v", db[0])
		}
	})

	t.Run("fan-out: the cluster's daemon and one outside it", func(t *testing.T) {
		e.t = t
		// A second daemon on this host, outside the cluster, reached directly: it asks the
		// same containerd for the pods, and sees the same kernel.
		outside, stop := e.hostDaemon("outside")
		run := e.plugin("run", "trace_exec", "-n", e.ns, "-p", "web", "--daemons", outside)
		byNode := func(n string) func(gadgettest.Event) bool {
			return func(ev gadgettest.Event) bool { return execOf("web", "true")(ev) && ev.Str("k8s.node") == n }
		}
		a := run.WaitFor("an exec in web from the cluster's node", byNode(node), nil)
		b := run.WaitFor("an exec in web from the daemon outside", byNode("outside"), nil)
		// Both are attached by now: a later exec is seen by both, merged into one stream.
		// "Later" by the kernel's clock, not by pid (pids wrap); a second's margin covers the
		// two daemons' slightly different boot-to-wall offsets.
		since := gadgettest.Latest(a.Time("timestamp"), b.Time("timestamp")).Add(time.Second)
		later := run.WaitFor("a later exec from the cluster's node", func(ev gadgettest.Event) bool {
			return byNode(node)(ev) && ev.Time("timestamp").After(since)
		}, nil)
		run.WaitFor("the same exec from the daemon outside", func(ev gadgettest.Event) bool {
			return byNode("outside")(ev) && ev.Num("proc.pid") == later.Num("proc.pid")
		}, nil)
		stop()
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(run.Stderr(), "warning: node outside: the run ended there") {
			if time.Now().After(deadline) {
				t.Fatalf("the client did not say the daemon outside went away: %s", run.Stderr())
			}
			time.Sleep(20 * time.Millisecond)
		}
		last := gadgettest.LatestTime(run.Matching(byNode(node)), "timestamp")
		run.WaitFor("an exec in web after the other daemon went away", func(ev gadgettest.Event) bool {
			return byNode(node)(ev) && ev.Time("timestamp").After(last)
		}, nil)
		s := run.Stop()
		if f, _ := s["failed"].(map[string]any); f["outside"] == nil {
			t.Errorf("the summary does not say node outside failed: %v", s)
		}
		nodeCounts(t, s, node, "exec")
	})

	t.Run("a node without a daemon", func(t *testing.T) {
		e.t = t
		cmd := exec.Command(e.kubectl, "gadgetry", "run", "trace_exec", "--node", "no-such-node")
		cmd.Env = append(os.Environ(), e.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--node no-such-node: no node daemon runs there (daemons run on "+node+")") {
			t.Errorf("kubectl gadgetry run --node no-such-node: %v\n%s", err, out)
		}
	})

	t.Run("the daemon's pod deleted mid-run", func(t *testing.T) {
		e.t = t
		pods, err := e.cs.CoreV1().Pods(k8sclient.DaemonNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: k8sclient.DaemonSelector})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("daemon pods: %v %v", err, pods)
		}
		daemonPod := pods.Items[0].Name
		run := e.plugin("run", "trace_exec", "-n", e.ns, "-p", "web")
		run.WaitFor("an exec in pod web", execOf("web", "true"), nil)
		if err := e.cs.CoreV1().Pods(k8sclient.DaemonNamespace).Delete(context.Background(), daemonPod, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err = run.Wait() // it ends by itself
		if err == nil {
			t.Errorf("the client exited 0 when its only node went away")
		}
		if !strings.Contains(run.Stderr(), "warning: node "+node+": the run ended there") {
			t.Errorf("the client did not say node %s went away: %s", node, run.Stderr())
		}
		// The DaemonSet brings a new daemon up; undeploy (the cleanup) removes it.
	})
}

// nodeCounts returns the counts of data source ds of node in a --summary-file of a run on
// the cluster.
func nodeCounts(t *testing.T, s map[string]any, node, ds string) map[string]float64 {
	t.Helper()
	nodes, _ := s["nodes"].(map[string]any)
	n, _ := nodes[node].(map[string]any)
	dss, _ := n["dataSources"].(map[string]any)
	c, _ := dss[ds].(map[string]any)
	out := map[string]float64{}
	for k, v := range c {
		out[k], _ = v.(float64)
	}
	if len(out) == 0 {
		t.Fatalf("no counts of %s for node %s in the summary %v", ds, node, s)
	}
	return out
}
