// Package k8sbench measures Gadgetry on Kubernetes (bench/k8s.sh): on the real single-node
// cluster of internal/k8stest, with Gadgetry deployed,
//
//   - the time from starting `kubectl gadgetry run trace_exec` to its first event, against a
//     local `gadgetry run trace_exec` on the same node;
//   - events per second received end to end (node daemon → gRPC → port-forward through the API
//     server → client → JSON lines) against a local run, for the same workload (a pod that
//     execs /bin/true as fast as it can), in alternating rounds of the same run, with what
//     each lost;
//   - the node daemon's resident memory idle, and the most seen under that load.
//
// It is a test so that it can use the cluster harness; it skips unless GADGETRY_K8S_BENCH=1
// (bench/k8s.sh sets it) and writes its report (markdown) to $K8S_BENCH_OUT.
package k8sbench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gadgetry/gadgetry/internal/k8stest"
	"github.com/gadgetry/gadgetry/internal/selfimage"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

const (
	workloadImage = "gadgetry.test/busybox:1"
	benchNS       = "gadgetry-bench"
)

func TestK8sBench(t *testing.T) {
	if os.Getenv("GADGETRY_K8S_BENCH") != "1" {
		t.Skip("the Kubernetes benchmark runs from bench/k8s.sh (GADGETRY_K8S_BENCH=1)")
	}
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("K8S_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	window := 5 * time.Second
	info := k8stest.Get(t)
	img := k8stest.GadgetryImage(t)
	importBusybox(t)
	bin := gadgettest.CLI(t)
	plugins := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(plugins, "kubectl-gadgetry")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "KUBECONFIG="+info.Kubeconfig, "PATH="+plugins+":"+os.Getenv("PATH"))
	kubectl := filepath.Join(info.Bin, "kubectl")
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(bin, "deploy", "--image", img, "--image-pull-policy", "Never", "--runtime-socket", info.Containerd)
	defer run(bin, "undeploy")
	cs := k8stest.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		zero := int64(0)
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), benchNS, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}()
	daemonPid := findDaemon(t)
	idleRSS := rss(daemonPid)

	// Time to the first event: a pod that execs five times a second.
	zero := int64(0)
	pod := func(name, script string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{
				Name: "main", Image: workloadImage, ImagePullPolicy: corev1.PullNever, Command: []string{"/bin/sh", "-c", script}}}}}
		if _, err := cs.CoreV1().Pods(benchNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			p, err := cs.CoreV1().Pods(benchNS).Get(ctx, name, metav1.GetOptions{})
			if err == nil && p.Status.Phase == corev1.PodRunning {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s not running after two minutes", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	del := func(name string) {
		_ = cs.CoreV1().Pods(benchNS).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	pod("slow", "while true; do /bin/true; sleep 0.2; done")
	var firstK8s, firstLocal []time.Duration
	for i := 0; i < rounds; i++ {
		firstK8s = append(firstK8s, firstEvent(t, env, kubectl, "gadgetry", "run", "trace_exec", "-n", benchNS, "-p", "slow", "-o", "json", "-F", "proc.comm==true"))
		firstLocal = append(firstLocal, firstEvent(t, env, bin, "run", "trace_exec", "-o", "json", "-F", "proc.comm==true"))
	}
	del("slow")

	// Throughput: the same workload, a pod execing as fast as it can, read by both.
	pod("fast", "while true; do /bin/true; done")
	var rateK8s, rateLocal []float64
	var lostK8s, lostLocal uint64
	maxRSS := idleRSS
	for i := 0; i < rounds; i++ {
		r, l, m := rate(t, env, window, daemonPid, kubectl, "gadgetry", "run", "trace_exec", "-n", benchNS, "-p", "fast", "-o", "json", "-F", "proc.comm==true")
		rateK8s, lostK8s, maxRSS = append(rateK8s, r), lostK8s+l, max(maxRSS, m)
		r, l, _ = rate(t, env, window, 0, bin, "run", "trace_exec", "-o", "json", "-F", "proc.comm==true")
		rateLocal, lostLocal = append(rateLocal, r), lostLocal+l
	}
	del("fast")

	var b strings.Builder
	fmt.Fprintf(&b, "\n## Kubernetes: node daemon and kubectl gadgetry (bench/k8s.sh)\n\n")
	fmt.Fprintf(&b, "Single-node test cluster (internal/k8stest), trace_exec, %d rounds, local and Kubernetes runs alternating; medians.\n\n", rounds)
	fmt.Fprintf(&b, "| measure | kubectl gadgetry (daemon, port-forward) | local gadgetry run |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| start to first event | %v | %v |\n", median(firstK8s).Round(time.Millisecond), median(firstLocal).Round(time.Millisecond))
	fmt.Fprintf(&b, "| events/s received (a pod execing as fast as it can, %v windows) | %.0f | %.0f |\n", window, medianF(rateK8s), medianF(rateLocal))
	fmt.Fprintf(&b, "| records lost, all rounds | %d | %d |\n", lostK8s, lostLocal)
	fmt.Fprintf(&b, "\nNode daemon resident memory: %.1f MiB idle (deployed, no run), %.1f MiB at most under that load.\n",
		float64(idleRSS)/(1<<20), float64(maxRSS)/(1<<20))
	t.Log(b.String())
	if out := os.Getenv("K8S_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// firstEvent starts a run and returns the time until its first stdout line; then stops it.
func firstEvent(t *testing.T, env []string, name string, args ...string) time.Duration {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Duration, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			got <- time.Since(start)
		}
		for sc.Scan() {
		}
	}()
	var d time.Duration
	select {
	case d = <-got:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("%s %s: no event within two minutes", name, strings.Join(args, " "))
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	return d
}

// rate runs for window after the first event and returns the events received per second
// over the window, the records the run lost (its summary), and the largest resident memory
// of process pid (0: not sampled) seen meanwhile.
func rate(t *testing.T, env []string, window time.Duration, pid int, name string, args ...string) (float64, uint64, uint64) {
	t.Helper()
	summary := filepath.Join(t.TempDir(), "summary.json")
	cmd := exec.Command(name, append(args, "--summary-file", summary)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type mark struct {
		n  int
		at time.Time
	}
	first, last := make(chan mark, 1), make(chan mark, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		var start time.Time
		for sc.Scan() {
			n++
			if n == 1 {
				start = time.Now()
				first <- mark{1, start}
			}
			if !start.IsZero() && time.Since(start) >= window {
				last <- mark{n, time.Now()}
				start = time.Time{}
			}
		}
	}()
	var a, z mark
	select {
	case a = <-first:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("no event within two minutes")
	}
	var peak uint64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case z = <-last:
			break wait
		case <-tick.C:
			if pid > 0 {
				peak = max(peak, rss(pid))
			}
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatal("the window never ended")
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	lost := uint64(0)
	if b, err := os.ReadFile(summary); err == nil {
		// Both shapes: {"dataSources":...} locally, {"nodes":{n:{"dataSources":...}}} on the cluster.
		s := string(b)
		for _, key := range []string{`"lost":`, `"unread":`} {
			for rest := s; ; {
				i := strings.Index(rest, key)
				if i < 0 {
					break
				}
				rest = rest[i+len(key):]
				j := strings.IndexAny(rest, ",}")
				n, _ := strconv.ParseUint(strings.TrimSpace(rest[:j]), 10, 64)
				lost += n
			}
		}
	}
	return float64(z.n-a.n) / z.at.Sub(a.at).Seconds(), lost, peak
}

// findDaemon returns the pid of the node daemon (hostPID: a process of this host).
func findDaemon(t *testing.T) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == "/usr/bin/gadgetry" && args[1] == "daemon" {
			return pid
		}
	}
	t.Fatal("no node daemon process (/usr/bin/gadgetry daemon) on this host")
	return 0
}

func rss(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseUint(f[0], 10, 64)
			return n * 1024
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}

func importBusybox(t *testing.T) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox (busybox-static): %v", err)
	}
	spec := selfimage.Spec{Entrypoint: []string{"/bin/sh"}}
	for _, n := range []string{"sh", "true", "sleep"} {
		spec.Files = append(spec.Files, selfimage.File{Path: "/bin/" + n, Mode: 0o755, Data: bb})
	}
	img, err := selfimage.Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := img.WriteTar(context.Background(), workloadImage, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	k8stest.ImportImage(t, tarball)
}
