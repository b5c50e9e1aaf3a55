package deploy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gadgetry/gadgetry/deploy"
	"github.com/gadgetry/gadgetry/internal/k8stest"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

// gadgetry runs the CLI and returns its standard output and standard error.
func gadgetry(t *testing.T, cli string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(cli, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestK8sDeploy: `gadgetry deploy` on a real cluster brings the DaemonSet to Ready with
// Gadgetry's own image (built without Docker, imported into the node), running the daemon
// as the contract says; deploying again changes nothing; --dry-run=client -o yaml prints the
// objects `kubectl kustomize deploy/kustomize` renders; `gadgetry undeploy` leaves nothing,
// neither objects nor pods nor containers on the node; a second undeploy says so.
func TestK8sDeploy(t *testing.T) {
	info := k8stest.Get(t)
	image := k8stest.GadgetryImage(t)
	cli := gadgettest.CLI(t)
	if _, _, err := gadgetry(t, cli, "daemon", "--help"); err != nil {
		t.Fatalf("this gadgetry has no daemon command (%v): the DaemonSet cannot become Ready", err)
	}
	cs := k8stest.Clientset(t)
	kc := k8stest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // hang guard
	defer cancel()
	defer func() {
		// Whatever failed above, the next test starts from a cluster without Gadgetry.
		deploy.Delete(context.Background(), kc, true, func(string) {})
	}()

	flags := []string{"--kubeconfig", info.Kubeconfig, "--image", image, "--image-pull-policy", "Never", "--runtime-socket", info.Containerd, "--timeout", "5m"}
	_, stderr, err := gadgetry(t, cli, append([]string{"deploy"}, flags...)...)
	if err != nil {
		t.Fatalf("gadgetry deploy: %v\n%s", err, stderr)
	}
	for _, want := range []string{"namespace/gadgetry applied", "clusterrole.rbac.authorization.k8s.io/gadgetry applied", "daemonset.apps/gadgetry applied", "1 of 1 pods Ready"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("deploy's output lacks %q:\n%s", want, stderr)
		}
	}
	pods, err := cs.CoreV1().Pods(deploy.Namespace).List(ctx, metav1.ListOptions{LabelSelector: deploy.PodSelector})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d daemon pods, want 1 (one node)", len(pods.Items))
	}
	p := pods.Items[0]
	if p.Spec.NodeName != info.Node || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].Name != deploy.Container || !p.Status.ContainerStatuses[0].Ready {
		t.Errorf("daemon pod %s: node %q phase %s containers %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
	}
	// The daemon knows its node (NODE_NAME from the downward API).
	logs, _ := k8stest.Kubectl(t, "logs", "-n", deploy.Namespace, p.Name, "-c", deploy.Container)
	t.Logf("daemon log:\n%s", logs)

	// Again: nothing to change, and Ready at once.
	if _, stderr, err := gadgetry(t, cli, append([]string{"deploy"}, flags...)...); err != nil {
		t.Fatalf("gadgetry deploy, again: %v\n%s", err, stderr)
	}
	ds, err := cs.AppsV1().DaemonSets(deploy.Namespace).Get(ctx, deploy.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Generation != 1 {
		t.Errorf("deploying the same objects again made generation %d, want 1", ds.Generation)
	}

	// The daemon's registry credentials and trusted keys, from a Secret and a ConfigMap: the
	// rolled-out daemon says it has both.
	keyFile := filepath.Join(t.TempDir(), "cosign.pub")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := k8stest.Kubectl(t, "-n", deploy.Namespace, "create", "configmap", "gadgetry-keys", "--from-file=cosign.pub="+keyFile); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := k8stest.Kubectl(t, "-n", deploy.Namespace, "create", "secret", "docker-registry", "gadgetry-registry",
		"--docker-server=registry.invalid", "--docker-username=u", "--docker-password=p"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	creds := append(flags, "--registry-secret", "gadgetry-registry", "--public-keys-configmap", "gadgetry-keys")
	if _, stderr, err := gadgetry(t, cli, append([]string{"deploy"}, creds...)...); err != nil {
		t.Fatalf("gadgetry deploy %v: %v\n%s", creds, err, stderr)
	}
	want := "1 trusted key, registry credentials from " + deploy.RegistryConfigDir + "/config.json"
	for deadline := time.Now().Add(time.Minute); ; {
		pods, err := cs.CoreV1().Pods(deploy.Namespace).List(ctx, metav1.ListOptions{LabelSelector: deploy.PodSelector})
		if err != nil {
			t.Fatal(err)
		}
		found := ""
		for _, p := range pods.Items {
			if logs, _ := k8stest.Kubectl(t, "logs", "-n", deploy.Namespace, p.Name, "-c", deploy.Container); strings.Contains(logs, want) {
				found = p.Name
			}
		}
		if found != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no daemon pod says %q a minute after deploy with %v", want, creds)
		}
		time.Sleep(time.Second)
	}

	// --dry-run=client -o yaml versus the kustomize base, as kubectl renders it.
	root, err := k8stest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dry, stderr, err := gadgetry(t, cli, "deploy", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatalf("deploy --dry-run=client: %v\n%s", err, stderr)
	}
	kust, err := k8stest.Kubectl(t, "kustomize", filepath.Join(root, "deploy", "kustomize"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := deploy.ParseYAML([]byte(dry))
	if err != nil {
		t.Fatal(err)
	}
	b, err := deploy.ParseYAML([]byte(kust))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 5 {
		t.Errorf("--dry-run printed %d objects, want 5", len(a))
	}
	if d := deploy.Diff(a, b); d != "" {
		t.Errorf("gadgetry deploy --dry-run=client -o yaml differs from kubectl kustomize deploy/kustomize:\n%s", d)
	}

	// undeploy leaves nothing: no object, no pod, no container on the node.
	_, stderr, err = gadgetry(t, cli, "undeploy", "--kubeconfig", info.Kubeconfig, "--timeout", "5m")
	if err != nil {
		t.Fatalf("gadgetry undeploy: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "namespace/gadgetry deleted") {
		t.Errorf("undeploy's output:\n%s", stderr)
	}
	left, err := deploy.Remaining(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("after undeploy: %v", left)
	}
	out, err := exec.Command("ctr", "--address", info.Containerd, "-n", "k8s.io", "containers", "ls").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "gadgetry:dev") {
		t.Errorf("a container of the daemon's image is left on the node:\n%s", out)
	}
	_, stderr, err = gadgetry(t, cli, "undeploy", "--kubeconfig", info.Kubeconfig)
	if err != nil || !strings.Contains(stderr, "nothing to remove") {
		t.Errorf("a second undeploy: %v\n%s", err, stderr)
	}
}

// TestK8sDeployNotReady: when the nodes cannot get the image, deploy's wait ends with what each
// pod waits for and what to do.
func TestK8sDeployNotReady(t *testing.T) {
	info := k8stest.Get(t)
	cli := gadgettest.CLI(t)
	cs := k8stest.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard
	defer cancel()
	defer deploy.Delete(context.Background(), k8stest.Client(t), true, func(string) {})

	flags := []string{"--kubeconfig", info.Kubeconfig, "--image", "gadgetry.test/absent:1", "--image-pull-policy", "Never", "--runtime-socket", info.Containerd}
	if _, stderr, err := gadgetry(t, cli, append([]string{"deploy", "--wait=false"}, flags...)...); err != nil {
		t.Fatalf("deploy --wait=false: %v\n%s", err, stderr)
	}
	// Wait for the kubelet to report why (an event, not a delay), then ask deploy to wait.
	for {
		pods, err := cs.CoreV1().Pods(deploy.Namespace).List(ctx, metav1.ListOptions{LabelSelector: deploy.PodSelector})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 1 && len(pods.Items[0].Status.ContainerStatuses) == 1 {
			if w := pods.Items[0].Status.ContainerStatuses[0].State.Waiting; w != nil && w.Reason == "ErrImageNeverPull" {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the pod never reported ErrImageNeverPull: %+v", pods.Items)
		case <-time.After(200 * time.Millisecond):
		}
	}
	_, stderr, err := gadgetry(t, cli, append([]string{"deploy", "--timeout", "1s"}, flags...)...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("deploy with an image the node lacks: %v, want exit status 1\n%s", err, stderr)
	}
	for _, want := range []string{"0 of 1", "ErrImageNeverPull", "gadgetry.test/absent:1", "--image"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("deploy's error lacks %q:\n%s", want, stderr)
		}
	}
}
