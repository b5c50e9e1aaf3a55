// Package k8stest gives tests a real single-node Kubernetes cluster on this machine:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy,
// containerd and runc in a network namespace of their own (scripts/k8s/cluster.sh; what it
// runs and how it is torn down is said there and in docs/kubernetes.md).
//
// Tests that use it are named TestK8s…: `make test-k8s` brings one cluster up and runs
// `go test -run '^TestK8s'` in every package that imports this one, one package at a time,
// all on that cluster (GADGETRY_K8S_ENV names it). Elsewhere — `make test-host`'s
// `go test ./...` — Cluster skips, unless GADGETRY_K8S=1 asks each test binary to bring up a
// cluster of its own (shared by the binary's tests, torn down when the binary exits; a cold
// build of the Kubernetes binaries takes minutes: give go test a -timeout of 30m then).
//
// A test cleans up what it creates in the cluster (other packages' tests run on it next).
// Without root it skips, or fails when CI=true.
package k8stest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gadgetry/gadgetry/internal/kubeapi"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// Environment variables.
const (
	// EnvFile names the env file of a cluster already up (set by cluster.sh run).
	EnvFile = "GADGETRY_K8S_ENV"
	// EnvOwn, set to 1, makes a test binary bring up its own cluster.
	EnvOwn = "GADGETRY_K8S"
)

// Info describes the running cluster.
type Info struct {
	// Kubeconfig is the administrator's kubeconfig (system:masters); the API server is
	// reached from the host's network namespace.
	Kubeconfig string
	// Containerd is containerd's socket (`ctr --address`), namespace k8s.io.
	Containerd string
	// Node is the node's name.
	Node string
	// NetNS is the cluster's network namespace (nsenter --net=NetNS).
	NetNS string
	// State is the cluster's state directory.
	State string
	// Bin holds the Kubernetes binaries, kubectl among them.
	Bin string
	// CgroupRoot is the kubelet's cgroup root (the pods are below CgroupRoot/kubepods).
	CgroupRoot string
}

var shared struct {
	once  sync.Once
	info  *Info
	err   error
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// Cluster returns the kubeconfig of the test cluster, bringing it up on first use (see the
// package comment for when it skips).
func Cluster(t testing.TB) string {
	t.Helper()
	return Get(t).Kubeconfig
}

// Get returns the running cluster, bringing it up on first use.
func Get(t testing.TB) *Info {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("Kubernetes tests need root (CI=true)")
		}
		t.Skip("not root: the test cluster needs root")
	}
	envFile := os.Getenv(EnvFile)
	if envFile == "" && os.Getenv(EnvOwn) != "1" {
		t.Skipf("Kubernetes tests run in `make test-k8s` (or with %s=1, each test binary on a cluster of its own)", EnvOwn)
	}
	shared.once.Do(func() {
		if envFile != "" {
			shared.info, shared.err = readEnv(envFile)
			return
		}
		shared.info, shared.err = start()
	})
	if shared.err != nil {
		t.Fatalf("test cluster: %v", shared.err)
	}
	return shared.info
}

// Clientset returns a client of the cluster as its administrator.
func Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// restConfig is the administrator's client configuration of the cluster.
func restConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", Cluster(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Client returns the client package deploy takes, as the cluster's administrator.
func Client(t testing.TB) *kubeapi.Client {
	t.Helper()
	c, err := kubeapi.New(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Kubectl runs the cluster's kubectl with the administrator's kubeconfig and returns its
// standard output; a failure is an error carrying its standard error.
func Kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	info := Get(t)
	cmd := exec.Command(filepath.Join(info.Bin, "kubectl"), append([]string{"--kubeconfig", info.Kubeconfig, "--cache-dir", filepath.Join(info.State, "kube-cache")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

// Stop tears down the cluster this test binary brought up (nothing when it uses one started
// by make test-k8s) and waits for the teardown. Call it from TestMain after m.Run; without it
// the teardown still happens, when the binary exits.
func Stop() error {
	if shared.cmd == nil {
		return nil
	}
	shared.stdin.Close()
	select {
	case <-shared.done:
	case <-time.After(3 * time.Minute):
		syscall.Kill(-shared.cmd.Process.Pid, syscall.SIGKILL)
		<-shared.done
		return errors.New("test cluster: the teardown did not end within 3 minutes; killed (the next start sweeps what it left)")
	}
	if s := shared.cmd.ProcessState; s != nil && !s.Success() {
		return fmt.Errorf("test cluster: the teardown failed (%v): see its output above", s)
	}
	return nil
}

// Main runs the tests (gadgettest.Main: then the shared build directory is removed), then
// Stop: func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }.
func Main(m *testing.M) int {
	code := gadgettest.Main(m)
	if err := Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// RepoRoot returns the checkout this test runs in (the directory of the root go.mod).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/gadgetry/gadgetry\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the gadgetry checkout")
		}
		dir = parent
	}
}

// start runs `cluster.sh serve` and waits for its "ready ENVFILE" line. The script tears the
// cluster down when its standard input closes: when Stop closes it, or when this process dies
// however it dies (a go test timeout included).
func start() (*Info, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts/k8s/cluster.sh"), "serve")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting scripts/k8s/cluster.sh: %w", err)
	}
	shared.cmd, shared.stdin, shared.done = cmd, stdin, make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- f
			}
		}
		close(ready)
	}()
	go func() {
		cmd.Wait()
		close(shared.done)
	}()
	// A hang guard only: a cold build of the Kubernetes binaries takes minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	select {
	case f, ok := <-ready:
		if !ok {
			<-shared.done
			return nil, fmt.Errorf("scripts/k8s/cluster.sh serve failed (%v): see its output above", cmd.ProcessState)
		}
		return readEnv(f)
	case <-ctx.Done():
		Stop()
		return nil, errors.New("scripts/k8s/cluster.sh serve: not ready after 30 minutes")
	}
}

// readEnv reads the cluster's env file (KEY=VALUE lines, written by cluster.sh).
func readEnv(path string) (*Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's env file: %w", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	info := &Info{
		Kubeconfig: env["GADGETRY_K8S_KUBECONFIG"],
		Containerd: env["GADGETRY_K8S_CONTAINERD"],
		Node:       env["GADGETRY_K8S_NODE"],
		NetNS:      env["GADGETRY_K8S_NETNS"],
		State:      env["GADGETRY_K8S_STATE"],
		Bin:        env["GADGETRY_K8S_BIN"],
		CgroupRoot: env["GADGETRY_K8S_CGROUP"],
	}
	if info.Kubeconfig == "" || info.Containerd == "" || info.Node == "" {
		return nil, fmt.Errorf("%s: not a cluster env file (no kubeconfig, containerd or node)", path)
	}
	return info, nil
}
