package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestDaemonPullsAndVerifies: the daemon pulls images with its own registry credentials (a
// Docker config file, as a mounted Secret gives it) and verifies them with its own trusted
// keys; the client has neither. A signed image runs; an unsigned one is refused on the node,
// said to the client, before anything is loaded.
func TestDaemonPullsAndVerifies(t *testing.T) {
	bin := k8sTestBinary(t)
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	work := t.TempDir()
	env := cliEnv(t, "COSIGN_PASSWORD=test-password")
	gadgetry := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = env, work
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gadgetry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	regFlags := []string{"--authfile", reg.AuthFile, "--registry-ca", reg.CAFile}
	signed, unsigned := reg.Host+"/k8s/trace_exec:v1", reg.Host+"/k8s/unsigned:v1"
	for _, ref := range []string{signed, unsigned} {
		gadgetry("image", "tag", "trace_exec", ref)
		gadgetry(append([]string{"image", "push", ref}, regFlags...)...)
	}
	gadgetry("image", "keygen", "--output-key-prefix", "node")
	gadgetry(append([]string{"image", "sign", signed, "--key", "node.key"}, regFlags...)...)

	// The daemon's settings: its credentials, CA and keys; a store of its own.
	d := startDaemonEnv(t, bin, "node-a", "", cliEnv(t), append(regFlags, "--public-keys", filepath.Join(work, "node.pub"),
		"--store", filepath.Join(t.TempDir(), "store"))...)
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	client := cliEnv(t) // no credentials, no keys, no CA
	run := gadgettest.StartCLI(t, client, bin, "run", signed, "--daemons", d.addr, "-o", "json", "-F", "proc.comm=="+comm)
	run.WaitFor("an exec, from the image the daemon pulled", func(e gadgettest.Event) bool { return e.Str("proc.comm") == comm },
		func() { _ = exec.Command(exe).Run() })
	run.Stop()

	cmd := exec.Command(bin, "run", unsigned, "--daemons", d.addr, "-o", "json")
	cmd.Env = client
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "node node-a") || !strings.Contains(string(out), "not signed") ||
		!strings.Contains(string(out), "node daemon's trusted keys decide") || strings.Contains(string(out), "--verify-image=false") {
		t.Errorf("run of an unsigned image on a daemon with trusted keys: %v\n%s", err, out)
	}
}
