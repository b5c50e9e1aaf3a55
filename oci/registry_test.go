package oci_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// emptyAuthFile is a Docker config without credentials, so tests never read the user's.
func emptyAuthFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Acceptance: build → push → rm locally → pull → inspect gives the same digest; pull by
// digest; the missing-tag error lists the tags; oras reads our artifact.
func TestRegistryPushPull(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t, testregistry.Options{})
	o := &oci.Registry{Insecure: []string{reg.Host}, AuthFile: emptyAuthFile(t)}
	s := newStore(t)
	ref := reg.Host + "/gadgets/trace_x:v1"
	root, err := ocitest.Push(ctx, s, ref, ocitest.Simple("trace_x"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := o.Push(ctx, s, ref); err != nil || d.Digest != root.Digest {
		t.Fatalf("push: %v, %v", d.Digest, err)
	}
	if _, err := o.Push(ctx, s, reg.Host+"/gadgets/trace_x:v2"); err == nil {
		t.Fatal("pushing a tag the store lacks worked")
	}
	if _, err := s.Remove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.List(ctx); len(es) != 0 {
		t.Fatalf("store not empty after rm: %v", es)
	}
	if d, err := o.Pull(ctx, s, ref); err != nil || d.Digest != root.Digest {
		t.Fatalf("pull: %v, %v", d.Digest, err)
	}
	g, err := oci.Load(ctx, s, ref, "amd64")
	if err != nil || g.Digest != root.Digest.String() {
		t.Fatalf("load after pull: %+v, %v", g, err)
	}
	byDigest := reg.Host + "/gadgets/trace_x@" + root.Digest.String()
	if d, err := o.Pull(ctx, newStore(t), byDigest); err != nil || d.Digest != root.Digest {
		t.Fatalf("pull by digest: %v, %v", d.Digest, err)
	}

	_, err = o.Pull(ctx, s, reg.Host+"/gadgets/trace_x:v9")
	if !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), "available: v1") {
		t.Fatalf("missing tag: %v", err)
	}

	// oras reads what we pushed and sees our media types.
	orasBin, err := filepath.Abs("../bin/oras")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orasBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("oras CLI missing (scripts/setup.sh installs it): %v", err)
		}
		t.Skipf("oras CLI missing (scripts/setup.sh installs it): %v", err)
	}
	out, err := exec.Command(orasBin, "manifest", "fetch", "--plain-http", ref).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "application/vnd.oci.image.index.v1+json") || !strings.Contains(string(out), `"architecture":"arm64"`) {
		t.Fatalf("oras manifest fetch (index): %v\n%s", err, out)
	}
	out, err = exec.Command(orasBin, "manifest", "fetch", "--plain-http", "--platform", "linux/amd64", ref).CombinedOutput()
	for _, want := range []string{oci.ArtifactType, oci.MediaTypeMetadata, oci.MediaTypeEBPF, oci.MediaTypeWASM} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("oras manifest fetch (amd64 manifest): %v; want %s in\n%s", err, want, out)
		}
	}
}

func TestRegistryErrors(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t, testregistry.Options{})
	o := &oci.Registry{Insecure: []string{reg.Host}, AuthFile: emptyAuthFile(t)}

	t.Run("not a gadget", func(t *testing.T) {
		repo, err := o.Repository(mustRef(t, reg.Host+"/library/busybox:1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ocitest.PushContainerImage(ctx, repo, "1"); err != nil {
			t.Fatal(err)
		}
		s := newStore(t)
		before := snapshot(t, s.Root())
		_, err = o.Pull(ctx, s, reg.Host+"/library/busybox:1")
		if !errors.Is(err, oci.ErrNotGadget) || !strings.Contains(err.Error(), "ordinary container image") {
			t.Fatalf("pulling a container image: %v", err)
		}
		if !reflect.DeepEqual(before, snapshot(t, s.Root())) {
			t.Fatal("a refused pull changed the store")
		}
	})

	t.Run("registry down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		host := l.Addr().String()
		l.Close() // nobody listens there now
		o := &oci.Registry{Insecure: []string{host}, AuthFile: emptyAuthFile(t)}
		_, err = o.Pull(ctx, newStore(t), host+"/g/x:v1")
		if err == nil || !strings.Contains(err.Error(), "cannot reach registry "+host) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("pulling from a stopped registry: %v", err)
		}
	})

	t.Run("plain HTTP without the flag", func(t *testing.T) {
		o := &oci.Registry{AuthFile: emptyAuthFile(t)}
		_, err := o.Pull(ctx, newStore(t), reg.Host+"/g/x:v1")
		if err == nil || !strings.Contains(err.Error(), "--insecure-registries "+reg.Host) {
			t.Fatalf("got %v", err)
		}
	})
}

func mustRef(t *testing.T, s string) oci.Reference {
	r, err := oci.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A registry with basic auth and TLS: works with credentials from a Docker config file and the
// test CA, fails clearly without them.
func TestRegistryAuth(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	ref := reg.Host + "/private/g:v1"
	s := newStore(t)
	root, err := ocitest.Push(ctx, s, ref, ocitest.Simple("g"))
	if err != nil {
		t.Fatal(err)
	}
	good := &oci.Registry{AuthFile: reg.AuthFile, CAFile: reg.CAFile}
	if _, err := good.Push(ctx, s, ref); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	if d, err := good.Pull(ctx, dst, ref); err != nil || d.Digest != root.Digest {
		t.Fatalf("pull with credentials: %v %v", d.Digest, err)
	}

	noCreds := &oci.Registry{AuthFile: emptyAuthFile(t), CAFile: reg.CAFile}
	_, err = noCreds.Pull(ctx, newStore(t), ref)
	if err == nil || !strings.Contains(err.Error(), "requires credentials and none are saved") || !strings.Contains(err.Error(), "gadgetry login "+reg.Host) {
		t.Fatalf("pull without credentials: %v", err)
	}

	wrongFile := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(wrongFile, []byte(`{"auths":{"`+reg.Host+`":{"auth":"Z2FkZ2V0cnk6d3Jvbmc="}}}`), 0o600) // gadgetry:wrong
	wrong := &oci.Registry{AuthFile: wrongFile, CAFile: reg.CAFile}
	_, err = wrong.Pull(ctx, newStore(t), ref)
	if err == nil || !strings.Contains(err.Error(), "wrong user name or password for ") {
		t.Fatalf("pull with a wrong password: %v", err)
	}

	noCA := &oci.Registry{AuthFile: reg.AuthFile}
	_, err = noCA.Pull(ctx, newStore(t), ref)
	if err == nil || !strings.Contains(err.Error(), "--registry-ca") {
		t.Fatalf("pull without the CA: %v", err)
	}

	// login saves working credentials; a wrong password is refused and not saved; logout forgets.
	authFile := emptyAuthFile(t)
	o := &oci.Registry{AuthFile: authFile, CAFile: reg.CAFile}
	if err := o.Login(ctx, reg.Host, reg.User, "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if err := o.Login(ctx, reg.Host, reg.User, reg.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Pull(ctx, newStore(t), ref); err != nil {
		t.Fatalf("pull after login: %v", err)
	}
	if err := o.Logout(ctx, reg.Host); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Pull(ctx, newStore(t), ref); err == nil {
		t.Fatal("pull after logout worked")
	}
}

// TestCredentialsFile: AuthFile when set, else $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json.
func TestCredentialsFile(t *testing.T) {
	if got := (&oci.Registry{AuthFile: "/x/auth.json"}).CredentialsFile(); got != "/x/auth.json" {
		t.Errorf("with AuthFile: %s", got)
	}
	t.Setenv("DOCKER_CONFIG", "/etc/d")
	if got := (&oci.Registry{}).CredentialsFile(); got != "/etc/d/config.json" {
		t.Errorf("with DOCKER_CONFIG: %s", got)
	}
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", "/home/u")
	if got := (&oci.Registry{}).CredentialsFile(); got != "/home/u/.docker/config.json" {
		t.Errorf("default: %s", got)
	}
}
