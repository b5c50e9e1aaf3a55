package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/deploy"
)

// deployCLI runs the command tree in-process; stdout and stderr apart.
func deployCLI(args ...string) (string, string, error) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestDeployCommandLine: what deploy and undeploy do without a cluster: --dry-run=client
// prints the objects with the options applied (YAML, JSON); wrong flags are usage errors
// (exit status 2); an unreachable cluster is an error saying what to check (exit status 1).
// On a real cluster: deploy's TestK8sDeploy.
func TestDeployCommandLine(t *testing.T) {
	out, _, err := deployCLI("deploy", "--dry-run=client", "-o", "yaml", "--image", "registry.example.com/g:1", "--image-pull-policy", "Always")
	if err != nil {
		t.Fatal(err)
	}
	got, err := deploy.ParseYAML([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := deploy.New(deploy.Options{Image: "registry.example.com/g:1", PullPolicy: "Always"})
	want, _ := o.Maps()
	if d := deploy.Diff(want, got); d != "" {
		t.Errorf("--dry-run=client -o yaml:\n%s", d)
	}
	out, _, err = deployCLI("deploy", "--dry-run", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" || len(list.Items) != 5 {
		t.Errorf("--dry-run -o json: %v, kind %q, %d items:\n%s", err, list.Kind, len(list.Items), out)
	}

	for _, args := range [][]string{
		{"deploy", "--dry-run=server"},
		{"deploy", "-o", "yaml"},
		{"deploy", "--dry-run=client", "-o", "xml"},
		{"deploy", "--dry-run=client", "--image-pull-policy", "Sometimes"},
		{"deploy", "--dry-run=client", "--runtime-socket", "relative.sock"},
		{"deploy", "extra"},
		{"undeploy", "extra"},
	} {
		_, _, err := deployCLI(args...)
		if exitStatus(err) != exitUsage {
			t.Errorf("%q: %v (exit status %d), want a usage error", args, err, exitStatus(err))
		}
	}

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	for _, cmd := range []string{"deploy", "undeploy"} {
		_, _, err := deployCLI(cmd, "--kubeconfig", kc, "--timeout", "1m")
		if exitStatus(err) != exitError || err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Errorf("%s with no API server: %v, want exit status 1 saying the API server does not answer", cmd, err)
		}
	}
	_, _, err = deployCLI("deploy", "--kubeconfig", filepath.Join(t.TempDir(), "none"))
	if exitStatus(err) != exitError || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("a missing kubeconfig: %v", err)
	}
}
