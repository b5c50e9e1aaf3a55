package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestK8sCluster: the cluster runs a DaemonSet of the locally built pause image (no registry)
// to Ready, and its pod reaches the API server through the kubernetes Service (kube-proxy's
// rules, the CNI bridge), as the daemon's pods do. It logs how long the DaemonSet took and
// what the cluster's processes use.
func TestK8sCluster(t *testing.T) {
	start := time.Now()
	info := Get(t)
	up := time.Since(start)
	cs := Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "k8stest-cluster"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}()
	labels := map[string]string{"app": "k8stest-pause"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "pause", Namespace: ns.Name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "pause", Image: "gadgetry.test/pause:1", ImagePullPolicy: corev1.PullNever,
					}},
					TerminationGracePeriodSeconds: new(int64),
				},
			},
		},
	}
	dsStart := time.Now()
	if _, err := cs.AppsV1().DaemonSets(ns.Name).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	for {
		got, err := cs.AppsV1().DaemonSets(ns.Name).Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.DesiredNumberScheduled == 1 && got.Status.NumberReady == 1 {
			pods, err := cs.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app=k8stest-pause"})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != 1 {
				t.Fatalf("%d pods, want 1", len(pods.Items))
			}
			pod = pods.Items[0]
			break
		}
		select {
		case <-ctx.Done():
			out, _ := Kubectl(t, "describe", "pods", "-n", ns.Name)
			t.Fatalf("the DaemonSet's pod is not Ready: %+v\n%s", got.Status, out)
		case <-time.After(200 * time.Millisecond):
		}
	}
	dsReady := time.Since(dsStart)
	if pod.Spec.NodeName != info.Node {
		t.Errorf("pod on node %q, want %q", pod.Spec.NodeName, info.Node)
	}
	if os.Getenv(EnvFile) == "" {
		t.Logf("cluster up in %v (this test binary brought it up), DaemonSet pod Ready %v later", up.Round(time.Millisecond), dsReady.Round(time.Millisecond))
	} else {
		t.Logf("DaemonSet pod Ready %v after its creation (cluster.sh logged the time to bring the cluster up)", dsReady.Round(time.Millisecond))
	}

	// The pod's cgroup is under the kubelet's root, and its sandbox process is the pause.
	pids := cgroupPids(t, filepath.Join("/sys/fs/cgroup/pids", info.CgroupRoot), "pod"+string(pod.UID))
	if len(pids) == 0 {
		t.Fatalf("no process in a cgroup pod%s under %s", pod.UID, info.CgroupRoot)
	}

	// From the pod's network namespace, the kubernetes Service leads to the API server.
	svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body := getInNetNS(t, fmt.Sprintf("/proc/%d/ns/net", pids[0]), net.JoinHostPort(svc.Spec.ClusterIP, "443"), "/readyz", info)
	if body != "ok" {
		t.Errorf("GET /readyz through the kubernetes Service from the pod: %q", body)
	}

	rss, n := clusterRSS(t, info)
	t.Logf("the cluster's %d processes (components, shims, pods) use %d MiB RSS", n, rss>>20)
}

// cgroupPids returns the pids in the cgroups named name below dir (any depth).
func cgroupPids(t *testing.T, dir, name string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || !strings.Contains(d.Name(), name) {
			return nil
		}
		filepath.WalkDir(p, func(q string, e os.DirEntry, err error) error {
			if err == nil && e.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(q)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
			}
			return nil
		})
		return filepath.SkipDir
	})
	return pids
}

// clusterRSS sums the resident memory of every process in the cluster's cgroups.
func clusterRSS(t *testing.T, info *Info) (int64, int) {
	var total int64
	pids := cgroupPids(t, "/sys/fs/cgroup/pids", strings.TrimPrefix(info.CgroupRoot, "/"))
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total, len(pids)
}

// getInNetNS GETs path over HTTPS from addr, connecting from inside the network namespace
// netns, trusting the cluster's CA.
func getInNetNS(t *testing.T, netns, addr, path string, info *Info) string {
	t.Helper()
	conn, err := dialInNetNS(netns, addr)
	if err != nil {
		t.Fatalf("connecting to %s from %s: %v", addr, netns, err)
	}
	cfg, err := clientcmd.LoadFromFile(info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range cfg.Clusters {
		pool.AppendCertsFromPEM(c.CertificateAuthorityData)
	}
	host, _, _ := net.SplitHostPort(addr)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			if conn == nil {
				return nil, fmt.Errorf("one connection only")
			}
			c := conn
			conn = nil
			return c, nil
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get("https://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	return string(b[:n])
}

// dialInNetNS opens a TCP connection from inside the network namespace at nsPath: a locked
// thread joins it, dials, and ends with its goroutine (so no other goroutine runs there).
func dialInNetNS(nsPath, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, time.Minute)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
