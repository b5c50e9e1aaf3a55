package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// imageCLI runs the gadgetry command tree in-process.
func imageCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// The image commands end to end against a real registry: push, rm, pull, ls, inspect, tag,
// export, import, login, logout.
func TestImageCommands(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	storeDir := t.TempDir()
	authFile := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(authFile, []byte("{}"), 0o600)
	common := []string{"--store", storeDir, "--authfile", authFile, "--registry-ca", reg.CAFile}
	run := func(stdin string, args ...string) (string, error) {
		return imageCLI(t, stdin, append(append([]string{"image"}, args...), common...)...)
	}
	s, err := oci.OpenStore(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/gadgets/trace_x:v1"
	root, err := ocitest.Push(ctx, s, ref, ocitest.Simple("trace_x"))
	if err != nil {
		t.Fatal(err)
	}

	if out, err := run("", "push", ref); err == nil || !strings.Contains(err.Error(), "gadgetry login") {
		t.Fatalf("push without login: %v\n%s", err, out)
	}
	if out, err := run(reg.Password+"\n", "login", reg.Host, "-u", reg.User, "--password-stdin"); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	if out, err := run("", "push", ref); err != nil || !strings.Contains(out, root.Digest.String()) {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if out, err := run("", "rm", ref); err != nil || !strings.Contains(out, "untagged "+ref) {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	if out, err := run("", "pull", ref); err != nil || !strings.Contains(out, root.Digest.String()) {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	if out, err := run("", "tag", ref, "localhost/mine:v2"); err != nil {
		t.Fatalf("tag: %v\n%s", err, out)
	}
	out, err := run("", "ls", "--no-builtin", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []listedImage
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || rows[0].Ref != ref || rows[1].Ref != "localhost/mine:v2" || rows[0].Digest != root.Digest.String() || strings.Join(rows[0].Archs, ",") != "amd64,arm64" {
		t.Fatalf("ls -o json: %v\n%s", err, out)
	}
	if out, err := run("", "list"); err != nil || !strings.Contains(out, "REFERENCE") || !strings.Contains(out, "localhost/mine:v2") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("", "inspect", ref, "-o", "json")
	if err != nil || !strings.Contains(out, `"digest": "`+root.Digest.String()) || !strings.Contains(out, oci.MediaTypeEBPF) {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	if out, err := run("", "inspect", ref, "--remote"); err != nil || !strings.Contains(out, "Manifest arm64") {
		t.Fatalf("inspect --remote: %v\n%s", err, out)
	}
	tarball := filepath.Join(t.TempDir(), "g.tar")
	if out, err := run("", "export", ref, "localhost/mine:v2", tarball); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	other := t.TempDir()
	out, err = imageCLI(t, "", "image", "import", tarball, "--store", other)
	if err != nil || !strings.Contains(out, "imported localhost/mine:v2 "+root.Digest.String()) {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if out, err := run("", "logout", reg.Host); err != nil {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	if out, err := run("", "pull", ref); err == nil {
		t.Fatalf("pull after logout worked:\n%s", out)
	}
	if out, err := run("", "inspect", "trace_exec"); err != nil || !strings.Contains(out, "trace_exec (built-in)") || !strings.Contains(out, "  program") {
		t.Fatalf("inspect of a built-in gadget: %v\n%s", err, out)
	}
	if _, err := run("", "ls", "-o", "xml"); err == nil {
		t.Fatal("-o xml accepted")
	}
}
