package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// TestCLIErrors runs the built gadgetry over bad input (references, tags, registries,
// credentials, corrupt blobs, images that are not gadgets, parameters) and compares the whole
// of stderr with the message expected: one chain of "what failed: why; what to do", naming the
// image once, with no stray or repeated parts. {REG} and the like stand for what changes from
// run to run (ports, file names, digests).
func TestCLIErrors(t *testing.T) {
	ctx := context.Background()
	bin := runTestBinary(t)
	reg := testregistry.Start(t, testregistry.Options{})
	authReg := testregistry.Start(t, testregistry.Options{Auth: true})
	noCreds := writeFile(t, "config.json", "{}")
	wrongCreds := writeFile(t, "wrong.json", `{"auths":{"`+authReg.Host+`":{"auth":"Z2FkZ2V0cnk6d3Jvbmc="}}}`) // gadgetry:wrong

	// The plain-HTTP registry: a gadget with two tags, a gadget whose WASM layer was changed in
	// the registry's storage after the push (same size, other bytes), an ordinary container
	// image.
	plainHTTP := &oci.Registry{Insecure: []string{reg.Host}, AuthFile: noCreds}
	pushTo := func(o *oci.Registry, ref string, push func(repo oras.Target, tag string) error) {
		t.Helper()
		r, err := oci.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		repo, err := o.Repository(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := push(repo, r.Tag); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
	pushGadget := func(o *oci.Registry, ref string, img ocitest.Image) {
		t.Helper()
		pushTo(o, ref, func(repo oras.Target, tag string) error {
			_, err := ocitest.Push(ctx, repo, tag, img)
			return err
		})
	}
	pushGadget(plainHTTP, reg.Host+"/hx/gadget:v1", ocitest.Simple("gadget"))
	pushGadget(plainHTTP, reg.Host+"/hx/gadget:v2", ocitest.Simple("gadget"))
	corrupt := ocitest.Simple("corrupt")
	corrupt.WASM = []byte("wasm of the corrupt image")
	pushGadget(plainHTTP, reg.Host+"/hx/corrupt:v1", corrupt)
	corruptDigest := ocitest.Digest(corrupt.WASM)
	tamper(t, filepath.Join(reg.Dir, "docker/registry/v2/blobs/sha256", corruptDigest[7:9], corruptDigest[7:], "data"))
	pushTo(plainHTTP, reg.Host+"/hx/plain:v1", func(repo oras.Target, tag string) error {
		_, err := ocitest.PushContainerImage(ctx, repo, tag)
		return err
	})
	pushGadget(&oci.Registry{AuthFile: authReg.AuthFile, CAFile: authReg.CAFile}, authReg.Host+"/hx/private:v1", ocitest.Simple("private"))

	// A store holding a gadget whose WASM layer was changed after it was stored.
	tamperedStore := t.TempDir()
	s, err := oci.OpenStore(tamperedStore)
	if err != nil {
		t.Fatal(err)
	}
	stored := ocitest.Simple("stored")
	stored.WASM = []byte("wasm of the stored image")
	if _, err := ocitest.Push(ctx, s, "localhost/hx/stored:v1", stored); err != nil {
		t.Fatal(err)
	}
	storedDigest := ocitest.Digest(stored.WASM)
	tamper(t, filepath.Join(tamperedStore, "blobs/sha256", storedDigest[7:]))

	// A loopback port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	vars := strings.NewReplacer("{REG}", reg.Host, "{AUTHREG}", authReg.Host, "{CLOSED}", closed,
		"{CORRUPT}", corruptDigest, "{STORED}", storedDigest, "{CA}", authReg.CAFile,
		"{NOCREDS}", noCreds, "{WRONGCREDS}", wrongCreds, "{GOODCREDS}", authReg.AuthFile,
		"{TAMPERED}", tamperedStore, "{ZERO}", "sha256:"+strings.Repeat("0", 64))
	const (
		nameRule      = "lowercase letters and digits separated by '.', '_', '__' or '-'"
		credsHint     = "run `gadgetry login {AUTHREG}` or pass --authfile with a Docker config file that has them"
		wrongCredsMsg = "wrong user name or password for {AUTHREG} (the registry refused the saved credentials: 401 unauthorized); run `gadgetry login {AUTHREG}` again, or pass --authfile with a Docker config file that has the right ones"
		notGadget     = `not a gadget image: it is an ordinary container image (artifactType "", config media type "application/vnd.oci.image.config.v1+json"; a gadget has artifactType "application/vnd.gadget.v1+binary")`
	)
	insecure := "--insecure-registries={REG}"
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		// References.
		{"upper-case path", []string{"run", "Foo/bar:v1"},
			"", `invalid image reference "Foo/bar:v1": path component "Foo" must be ` + nameRule},
		{"space in a bare name", []string{"run", "a b"},
			"", `invalid image reference "a b": a name must be ` + nameRule},
		{"upper-case bare name with a tag", []string{"run", "Trace:v1"},
			"", `invalid image reference "Trace:v1": name "Trace" must be ` + nameRule},
		{"empty tag", []string{"run", "{REG}/hx/gadget:"},
			"", `invalid image reference "{REG}/hx/gadget:": nothing after the ':' of the tag`},
		{"short digest", []string{"run", "{REG}/hx/gadget@sha256:abc"},
			"", `invalid image reference "{REG}/hx/gadget@sha256:abc": digest must be sha256:<64 hex digits> (or sha512:<128>)`},

		// Tags, repositories and digests the registry does not have.
		{"missing tag", []string{"run", "{REG}/hx/gadget:v9", insecure},
			"", "pulling {REG}/hx/gadget:v9: no such tag (available: v1, v2)"},
		{"missing tag, image pull", []string{"image", "pull", "{REG}/hx/gadget:v9", insecure},
			"", "pulling {REG}/hx/gadget:v9: no such tag (available: v1, v2)"},
		{"missing tag, image inspect --remote", []string{"image", "inspect", "--remote", "{REG}/hx/gadget:v9", insecure},
			"", "inspecting {REG}/hx/gadget:v9: no such tag (available: v1, v2)"},
		{"missing repository", []string{"run", "{REG}/hx/nothing:v1", insecure},
			"", "pulling {REG}/hx/nothing:v1: no such repository in the registry"},
		{"missing digest", []string{"run", "{REG}/hx/gadget@{ZERO}", insecure},
			"", "pulling {REG}/hx/gadget@{ZERO}: no manifest with this digest (available: v1, v2)"},
		{"not in the store with --pull never", []string{"run", "localhost/hx/stored:v2", "--store", "{TAMPERED}", "--pull", "never"},
			"", "localhost/hx/stored:v2 is not in the local store and the pull policy is never: pull it first (gadgetry image pull localhost/hx/stored:v2) or use --pull missing"},

		// Registries that cannot be reached or spoken to.
		{"closed port", []string{"run", "{CLOSED}/hx/gadget:v1", "--insecure-registries={CLOSED}"},
			"", "pulling {CLOSED}/hx/gadget:v1: cannot reach registry {CLOSED}: connect: connection refused; is it running and is the address right?"},
		{"closed port, image pull", []string{"image", "pull", "{CLOSED}/hx/gadget:v1"},
			"", "pulling {CLOSED}/hx/gadget:v1: cannot reach registry {CLOSED}: connect: connection refused; is it running and is the address right?"},
		{"plain HTTP without --insecure-registries", []string{"run", "{REG}/hx/gadget:v1"},
			"", "pulling {REG}/hx/gadget:v1: registry {REG} speaks plain HTTP; pass --insecure-registries {REG} to allow it"},
		{"untrusted certificate", []string{"run", "{AUTHREG}/hx/private:v1", "--authfile={GOODCREDS}"},
			"", "pulling {AUTHREG}/hx/private:v1: registry {AUTHREG} has a certificate this machine does not trust (x509: certificate signed by unknown authority); pass --registry-ca FILE with its CA, or --insecure to skip the check"},

		// Credentials.
		{"no credentials", []string{"run", "{AUTHREG}/hx/private:v1", "--registry-ca={CA}"},
			"", "pulling {AUTHREG}/hx/private:v1: registry {AUTHREG} requires credentials and none are saved for it; " + credsHint},
		{"wrong credentials", []string{"run", "{AUTHREG}/hx/private:v1", "--registry-ca={CA}", "--authfile={WRONGCREDS}"},
			"", "pulling {AUTHREG}/hx/private:v1: " + wrongCredsMsg},
		{"wrong credentials, image inspect --remote", []string{"image", "inspect", "--remote", "{AUTHREG}/hx/private:v1", "--registry-ca={CA}", "--authfile={WRONGCREDS}"},
			"", "inspecting {AUTHREG}/hx/private:v1: " + wrongCredsMsg},
		{"wrong password at login", []string{"image", "login", "{AUTHREG}", "-u", "gadgetry", "--password-stdin", "--registry-ca={CA}"},
			"wrong\n", `logging in to {AUTHREG}: wrong user name or password for {AUTHREG} (user "gadgetry" was refused: 401 unauthorized)`},

		// Corrupt blobs.
		{"corrupt blob in the registry", []string{"run", "{REG}/hx/corrupt:v1", insecure},
			"", "pulling {REG}/hx/corrupt:v1: layer {CORRUPT} does not match its descriptor (mismatched digest): registry {REG} serves a corrupt or tampered copy; push the image to it again"},
		{"corrupt blob in the registry, image pull", []string{"image", "pull", "{REG}/hx/corrupt:v1", insecure},
			"", "pulling {REG}/hx/corrupt:v1: layer {CORRUPT} does not match its descriptor (mismatched digest): registry {REG} serves a corrupt or tampered copy; push the image to it again"},
		{"tampered blob in the store", []string{"run", "localhost/hx/stored:v1", "--store", "{TAMPERED}", "--pull", "never"},
			"", "loading localhost/hx/stored:v1 from the local store: layer {STORED} does not match its descriptor (mismatched digest): the local store's copy is corrupt or was tampered with; remove the image (gadgetry image rm) and pull it again"},

		// Images that are not gadgets.
		{"plain OCI image", []string{"run", "{REG}/hx/plain:v1", insecure},
			"", "pulling {REG}/hx/plain:v1: " + notGadget},
		{"plain OCI image, image pull", []string{"image", "pull", "{REG}/hx/plain:v1", insecure},
			"", "pulling {REG}/hx/plain:v1: " + notGadget},
		{"plain OCI image, image inspect --remote", []string{"image", "inspect", "--remote", "{REG}/hx/plain:v1", insecure},
			"", "inspecting {REG}/hx/plain:v1: " + notGadget},
		// Gadget parameters and run's own flags: usage errors (exit status 2), in
		// run_cli_test.go's TestRunUsageErrors.
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every command gets an empty store of its own and no saved credentials, unless the
			// case gives others: they come after the subcommand, before the case's own flags,
			// which win.
			n := 1
			if tc.args[0] == "image" {
				n = 2
			}
			args := append(append(tc.args[:n:n], "--store", t.TempDir(), "--authfile", noCreds), tc.args[n:]...)
			for i, a := range args {
				args[i] = vars.Replace(a)
			}
			cmd := exec.Command(bin, args...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("gadgetry %s: %v, want exit status 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
			}
			want := "Error: " + vars.Replace(tc.want) + "\n"
			if got := stderr.String(); got != want {
				t.Errorf("gadgetry %s\nstderr: %q\nwant:   %q", strings.Join(args, " "), got, want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
		})
	}
}

// writeFile writes content to a new file name in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tamper flips the case of the first byte of the file at path: same size, other digest.
func tamper(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
