package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// requireCosign returns the cosign CLI scripts/setup.sh builds into bin/ (or one on PATH);
// without it the test is skipped, or fails when CI=true.
func requireCosign(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../bin/cosign")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the cosign CLI is missing (CI=true): scripts/setup.sh builds it into bin/")
	}
	t.Skip("the cosign CLI is missing: scripts/setup.sh builds it into bin/")
	return ""
}

// squeeze turns the runs of spaces tabwriter aligns columns with into one space.
func squeeze(s string) string {
	return regexp.MustCompile(` {2,}`).ReplaceAllString(s, " ")
}

// sigPrefix starts the name of the test gadget's only program (gsig_exec): no other test
// loads a program so named, so its presence in the kernel says this test's run loaded it.
const sigPrefix = "gsig"

// signTest is the world of TestSignedImages: a registry, the built gadgetry, cosign, keys.
type signTest struct {
	t       *testing.T
	bin     string
	cosign  string
	reg     *testregistry.Registry
	work    string
	env     []string
	obj     []byte
	plain   *oci.Registry
	replace *strings.Replacer
}

// command runs name with args in the test's environment and returns stdout, stderr and the
// exit status.
func (s *signTest) command(name string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = s.env, s.work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	s.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	return "", "", -1
}

// ok runs name with args and fails the test unless it succeeds; it returns stdout.
func (s *signTest) ok(name string, args ...string) string {
	s.t.Helper()
	out, errOut, code := s.command(name, s.args(args)...)
	if code != 0 {
		s.t.Fatalf("%s %s: exit status %d\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// args replaces {REG}, {WORK} and the like in args.
func (s *signTest) args(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = s.replace.Replace(a)
	}
	return out
}

// repository returns the registry's repository of path ("repo/name:tag") and the reference.
func (s *signTest) repository(path string) (*remote.Repository, oci.Reference) {
	s.t.Helper()
	r, err := oci.ParseReference(s.reg.Host + "/" + path)
	if err != nil {
		s.t.Fatal(err)
	}
	repo, err := s.plain.Repository(r)
	if err != nil {
		s.t.Fatal(err)
	}
	return repo, r
}

// push pushes a gadget image of the test object as path (a repository path of the registry
// with its tag) and returns its digest; version makes images of the same object differ.
func (s *signTest) push(path, version string) digest.Digest {
	s.t.Helper()
	repo, r := s.repository(path)
	img := ocitest.Image{
		Metadata:    []byte("name: sig_exec\ndescription: the exec test gadget, signed or not\n"),
		EBPF:        map[string][]byte{goruntime.GOARCH: s.obj},
		Annotations: map[string]string{ocispec.AnnotationVersion: version},
	}
	d, err := ocitest.Push(context.Background(), repo, r.Tag, img)
	if err != nil {
		s.t.Fatal(err)
	}
	return d.Digest
}

// signatureOp copies (to != "") or deletes the signature manifest of digest from in the
// repository of path.
func (s *signTest) signatureOp(path string, from, to digest.Digest) {
	s.t.Helper()
	ctx := context.Background()
	repo, _ := s.repository(path)
	d, err := repo.Resolve(ctx, oci.SignatureTag(from))
	if err != nil {
		s.t.Fatal(err)
	}
	if to != "" {
		err = repo.Tag(ctx, d, oci.SignatureTag(to))
	} else {
		err = repo.Delete(ctx, d)
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// runLoads runs `gadgetry args...`, waits until the test gadget's program is in the kernel,
// stops the run with SIGINT and returns its stderr: proof that the run verified and loaded.
func (s *signTest) runLoads(args ...string) string {
	s.t.Helper()
	before := gadgettest.Objects(s.t, sigPrefix)
	cmd := exec.Command(s.bin, s.args(append(args, "-t", "60s"))...)
	cmd.Env, cmd.Dir = s.env, s.work
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		loaded := false
		for o := range gadgettest.Objects(s.t, sigPrefix) {
			if !before[o] && strings.HasPrefix(o, "prog:") {
				loaded = true
			}
		}
		if loaded {
			break
		}
		select {
		case err := <-exited:
			s.t.Fatalf("gadgetry %s exited (%v) before its program was loaded\nstderr: %s", strings.Join(args, " "), err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			s.t.Fatalf("gadgetry %s: the program never showed in the kernel\nstderr: %s", strings.Join(args, " "), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	// Exit status 130: a run SIGINT stopped (exit_codes.go).
	if err := <-exited; exitStatusOf(err) != 130 {
		s.t.Fatalf("gadgetry %s: %v after SIGINT, want exit status 130\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	gadgettest.CheckClean(s.t, sigPrefix, before)
	return stderr.String()
}

// refused runs `gadgetry args...` and checks that it fails with exactly the error want (after
// the replacements), prints nothing on stdout, and loads nothing into the kernel.
func (s *signTest) refused(want string, args ...string) {
	s.t.Helper()
	before := gadgettest.Objects(s.t, sigPrefix)
	if args[0] == "run" {
		args = append(args, "-t", "10s") // should verification pass after all, the run ends
	}
	out, errOut, code := s.command(s.bin, s.args(args)...)
	if code != 1 {
		s.t.Fatalf("gadgetry %s: exit status %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	if want := "Error: " + s.replace.Replace(want) + "\n"; errOut != want {
		s.t.Errorf("gadgetry %s\nstderr: %q\nwant:   %q", strings.Join(args, " "), errOut, want)
	}
	if out != "" {
		s.t.Errorf("stdout: %q, want nothing", out)
	}
	for o := range gadgettest.Objects(s.t, sigPrefix) {
		if !before[o] {
			s.t.Errorf("gadgetry %s left %s in the kernel", strings.Join(args, " "), o)
		}
	}
}

// Signing and verification end to end, against a real registry and the real cosign CLI: what
// cosign signs verifies in gadgetry and runs; what gadgetry signs, cosign verify --key accepts;
// unsigned, wrongly signed, changed, another tag's signature, a signature deleted from the
// registry: each refused with its own message and nothing loaded; no keys or
// --verify-image=false: a warning; export → import → verify and run with the registry stopped.
func TestSignedImages(t *testing.T) {
	gadgettest.RequireRoot(t)
	cosign := requireCosign(t)
	s := &signTest{t: t, bin: runTestBinary(t), cosign: cosign, reg: testregistry.Start(t, testregistry.Options{}), work: t.TempDir()}
	s.obj = gadgettest.CompileFile(t, filepath.Join(gadgettest.TestdataDir(), "exec.bpf.c"), "-Dgtest_exec=gsig_exec")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "GADGETRY_STORE", "GADGETRY_CONFIG", "COSIGN_PASSWORD", "DOCKER_CONFIG", "XDG_CONFIG_HOME":
			continue
		}
		s.env = append(s.env, kv)
	}
	// cosign keeps a cache under $HOME; the config file is none unless a case writes one.
	s.env = append(s.env, "HOME="+s.work, "COSIGN_PASSWORD=test-password", "DOCKER_CONFIG="+s.work,
		"GADGETRY_CONFIG="+filepath.Join(s.work, "config.yaml"), "GADGETRY_STORE="+filepath.Join(s.work, "store"))
	if err := os.WriteFile(filepath.Join(s.work, "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.plain = &oci.Registry{Insecure: []string{s.reg.Host}, AuthFile: filepath.Join(s.work, "config.json")}
	s.replace = strings.NewReplacer("{REG}", s.reg.Host, "{WORK}", s.work)

	// Keys: gadgetry's, cosign's, and a stranger's.
	if out := s.ok(s.bin, "image", "keygen", "--output-key-prefix", "gadgetry"); !strings.Contains(out, "public key written to gadgetry.pub (key ") {
		t.Fatalf("keygen: %s", out)
	}
	s.ok(s.bin, "image", "keygen", "--output-key-prefix", "stranger")
	s.ok(s.cosign, "generate-key-pair", "--output-key-prefix", "cosign")
	keyID := func(pub string) string {
		b, err := os.ReadFile(filepath.Join(s.work, pub))
		if err != nil {
			t.Fatal(err)
		}
		k, err := oci.ParsePublicKey(b, pub)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	gKey, cKey, sKey := keyID("gadgetry.pub"), keyID("cosign.pub"), keyID("stranger.pub")
	gadgetrySign := func(ref, key string) string {
		return s.ok(s.bin, "image", "sign", "{REG}/"+ref, "--key", key, "--insecure-registries", "{REG}", "--store", t.TempDir())
	}
	cosignSign := func(ref string) {
		s.ok(s.cosign, "sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "-y", "{REG}/"+ref)
	}
	insecure := []string{"--insecure-registries", "{REG}"}
	trusted := []string{"--public-keys", "gadgetry.pub,cosign.pub"}
	run := func(ref string, extra ...string) []string {
		return append(append(append([]string{"run", "{REG}/" + ref, "--store", t.TempDir()}, insecure...), trusted...), extra...)
	}

	// Signed by cosign: gadgetry verifies it and runs it.
	cosigned := s.push("sig/cosigned:v1", "cosigned")
	cosignSign("sig/cosigned:v1")
	if out := s.ok(s.bin, append([]string{"image", "verify", "--remote", "{REG}/sig/cosigned:v1", "--public-keys", "cosign.pub"}, insecure...)...); out != s.replace.Replace("verified {REG}/sig/cosigned:v1 ("+cosigned.String()+"): signed by trusted key "+cKey+" (cosign.pub)\n") {
		t.Fatalf("image verify of the cosign-signed image: %q", out)
	}
	if errOut := s.runLoads(run("sig/cosigned:v1")...); errOut != "" {
		t.Fatalf("run of a verified image wrote to stderr: %q", errOut)
	}

	// Signed by gadgetry: cosign verify --key accepts it.
	signed := s.push("sig/signed:v1", "signed")
	if out := gadgetrySign("sig/signed:v1", "gadgetry.key"); out != s.replace.Replace("signed {REG}/sig/signed:v1 ("+signed.String()+") with key "+gKey+": {REG}/sig/signed:"+oci.SignatureTag(signed)+"\n") {
		t.Fatalf("image sign: %q", out)
	}
	out := s.ok(s.cosign, "verify", "--key", "gadgetry.pub", "--insecure-ignore-tlog=true", "--allow-http-registry", "{REG}/sig/signed:v1")
	if !strings.Contains(out, `"docker-manifest-digest":"`+signed.String()+`"`) {
		t.Fatalf("cosign verify of the gadgetry-signed image: %s", out)
	}
	if _, errOut, code := s.command(s.cosign, s.args([]string{"verify", "--key", "stranger.pub", "--insecure-ignore-tlog=true", "--allow-http-registry", "{REG}/sig/signed:v1"})...); code == 0 {
		t.Fatalf("cosign verify with another key passed: %s", errOut)
	}
	// Both tools add to one signature manifest: cosign signs gadgetry's image too.
	cosignSign("sig/signed:v1")
	if out := s.ok(s.bin, append([]string{"image", "inspect", "--remote", "{REG}/sig/signed:v1", "--public-keys", "cosign.pub"}, insecure...)...); !strings.Contains(squeeze(out), "Signatures: 2 signatures ("+oci.SignatureTag(signed)+")\nVerified: yes, by trusted key "+cKey+" (cosign.pub)\n") {
		t.Fatalf("image inspect --remote of the image signed twice:\n%s", out)
	}

	// Refused, each with its own message; nothing loaded.
	unsigned := s.push("sig/unsigned:v1", "unsigned")
	stranger := s.push("sig/stranger:v1", "stranger")
	gadgetrySign("sig/stranger:v1", "stranger.key")
	original := s.push("sig/changed:v1", "original")
	gadgetrySign("sig/changed:v1", "gadgetry.key")
	changed := s.push("sig/changed:v1", "changed")
	s.signatureOp("sig/changed:v1", original, changed)
	v1 := s.push("sig/tags:v1", "tags-1")
	v2 := s.push("sig/tags:v2", "tags-2")
	gadgetrySign("sig/tags:v2", "gadgetry.key")
	s.signatureOp("sig/tags:v1", v2, v1)
	withdrawn := s.push("sig/deleted:v1", "deleted")
	gadgetrySign("sig/deleted:v1", "gadgetry.key")
	pulled := filepath.Join(s.work, "pulled-store")
	s.ok(s.bin, append([]string{"image", "pull", "{REG}/sig/deleted:v1", "--store", pulled, "--public-keys", "gadgetry.pub"}, insecure...)...)
	s.signatureOp("sig/deleted:v1", withdrawn, "")

	trustedKeys := "the trusted keys " + gKey + " (gadgetry.pub), " + cKey + " (cosign.pub)"
	s.refused("verifying {REG}/sig/unsigned:v1: not signed: the registry has no signature for "+unsigned.String()+" (no tag "+oci.SignatureTag(unsigned)+"); sign it (gadgetry image sign, or cosign sign --key), or pass --verify-image=false to use it unverified",
		run("sig/unsigned:v1")...)
	s.refused("verifying {REG}/sig/stranger:v1: signed, but not by a trusted key: its signature verifies with none of "+trustedKeys+"; trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key",
		run("sig/stranger:v1")...)
	s.refused("verifying {REG}/sig/changed:v1: the image was changed after it was signed: the trusted signature stored for "+changed.String()+" signs "+original.String()+", which no tag names now; do not use it, and if the change is yours, sign the new image (gadgetry image sign)",
		run("sig/changed:v1")...)
	s.refused("verifying {REG}/sig/tags:v1: its signature is another image's: the trusted signature stored for "+v1.String()+" signs "+v2.String()+", which tag v2 names; it was copied from there and this image is not signed: do not use it, and sign it if it is yours (gadgetry image sign)",
		run("sig/tags:v1")...)
	s.refused("verifying {REG}/sig/deleted:v1: its signature was deleted from the registry: the registry has no signature for "+withdrawn.String()+" (no tag "+oci.SignatureTag(withdrawn)+"), but the local store holds one from an earlier pull, by trusted key "+gKey+" (gadgetry.pub); the publisher may have withdrawn it: ask them before using the image",
		append(run("sig/deleted:v1", "--pull", "always"), "--store", pulled)...)
	// The same refusals on pull, which leaves the store empty.
	empty := t.TempDir()
	s.refused("verifying {REG}/sig/stranger:v1: signed, but not by a trusted key: its signature does not verify with the trusted key "+gKey+" (gadgetry.pub); trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key",
		append([]string{"image", "pull", "{REG}/sig/stranger:v1", "--store", empty, "--public-keys", "gadgetry.pub"}, insecure...)...)
	if out := s.ok(s.bin, "image", "ls", "--no-builtin", "--store", empty); out != "REFERENCE  DIGEST  ARCHITECTURES  SOURCE\n" {
		t.Fatalf("a refused pull wrote to the store:\n%s", out)
	}
	// An image in the local store without signatures (pulled unverified).
	unverified := t.TempDir()
	s.ok(s.bin, append([]string{"image", "pull", "{REG}/sig/unsigned:v1", "--store", unverified}, insecure...)...)
	s.refused("verifying {REG}/sig/unsigned:v1: not signed: the local store has no signature for "+unsigned.String()+" (no tag "+oci.SignatureTag(unsigned)+"); pull it again to fetch its signatures from the registry (gadgetry image pull), or pass --verify-image=false to use it unverified",
		append(run("sig/unsigned:v1", "--pull", "never"), "--store", unverified)...)
	// The config file's keys are trusted when --public-keys is not given.
	if err := os.WriteFile(filepath.Join(s.work, "config.yaml"), []byte("publicKeys:\n  - gadgetry.pub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.refused("verifying {REG}/sig/stranger:v1: signed, but not by a trusted key: its signature does not verify with the trusted key "+gKey+" ({WORK}/gadgetry.pub); trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key",
		append([]string{"run", "{REG}/sig/stranger:v1", "--store", t.TempDir()}, insecure...)...)
	s.runLoads(append([]string{"run", "{REG}/sig/signed:v1", "--store", t.TempDir()}, insecure...)...)
	if err := os.Remove(filepath.Join(s.work, "config.yaml")); err != nil {
		t.Fatal(err)
	}

	// Unverified on request, or for want of keys: one warning, and the image runs.
	if errOut := s.runLoads(append([]string{"run", "{REG}/sig/stranger:v1", "--store", t.TempDir(), "--verify-image=false"}, append(insecure, trusted...)...)...); errOut != s.replace.Replace("warning: {REG}/sig/stranger:v1 is used unverified: signature verification is off (--verify-image=false)\n") {
		t.Fatalf("--verify-image=false: stderr %q", errOut)
	}
	noKeys := t.TempDir()
	if errOut := s.runLoads(append([]string{"run", "{REG}/sig/unsigned:v1", "--store", noKeys}, insecure...)...); errOut != s.replace.Replace("warning: {REG}/sig/unsigned:v1 is not verified: no trusted keys are configured, so whoever can push to its registry decides what runs; to require a signature, pass --public-keys KEY.pub, or list the keys under publicKeys in {WORK}/config.yaml\n") {
		t.Fatalf("no trusted keys: stderr %q", errOut)
	}
	// Warned once: when it came from the registry, not when it runs again from the store.
	if errOut := s.runLoads("run", "{REG}/sig/unsigned:v1", "--store", noKeys); errOut != "" {
		t.Fatalf("no trusted keys, second run from the store: stderr %q", errOut)
	}
	if errOut := s.runLoads("run", "{REG}/sig/unsigned:v1", "--store", noKeys, "--verify-image=false"); errOut != s.replace.Replace("warning: {REG}/sig/unsigned:v1 is used unverified: signature verification is off (--verify-image=false)\n") {
		t.Fatalf("--verify-image=false from the store: stderr %q", errOut)
	}

	// image inspect of the local store's copy says signed, by which key, verified or not.
	inspect := func(ref, keys string) string {
		out := s.ok(s.bin, "image", "inspect", "{REG}/"+ref, "--store", pulled, "--public-keys", keys)
		i := strings.Index(out, "Signatures:")
		j := strings.Index(out, "Name:")
		if i < 0 || j < i {
			t.Fatalf("image inspect %s:\n%s", ref, out)
		}
		return squeeze(out[i:j])
	}
	s.ok(s.bin, append([]string{"image", "pull", "{REG}/sig/stranger:v1", "--store", pulled}, insecure...)...)
	if got, want := inspect("sig/deleted:v1", "gadgetry.pub"), "Signatures: 1 signature ("+oci.SignatureTag(withdrawn)+")\nVerified: yes, by trusted key "+gKey+" (gadgetry.pub)\n"; got != want {
		t.Errorf("inspect of a signed image:\n%s\nwant\n%s", got, want)
	}
	if got, want := inspect("sig/stranger:v1", "gadgetry.pub"), "Signatures: 1 signature ("+oci.SignatureTag(stranger)+")\nVerified: no: signed, but not by a trusted key: its signature does not verify with the trusted key "+gKey+" (gadgetry.pub); trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key\n"; got != want {
		t.Errorf("inspect of an image signed by another key:\n%s\nwant\n%s", got, want)
	}
	if got, want := inspect("sig/stranger:v1", "stranger.pub"), "Signatures: 1 signature ("+oci.SignatureTag(stranger)+")\nVerified: yes, by trusted key "+sKey+" (stranger.pub)\n"; got != want {
		t.Errorf("inspect with the signer's key:\n%s\nwant\n%s", got, want)
	}

	// Export → import → verify and run with the registry stopped.
	s.ok(s.bin, append([]string{"image", "pull", "{REG}/sig/signed:v1", "--store", pulled, "--public-keys", "gadgetry.pub"}, insecure...)...)
	tarball := filepath.Join(s.work, "signed.tar")
	s.ok(s.bin, "image", "export", "{REG}/sig/signed:v1", tarball, "--store", pulled)
	s.reg.Stop()
	offline := t.TempDir()
	if out := s.ok(s.bin, "image", "import", tarball, "--store", offline); !strings.Contains(out, s.replace.Replace("imported {REG}/sig/signed:"+oci.SignatureTag(signed)+" ")) {
		t.Fatalf("import did not bring the signatures:\n%s", out)
	}
	for _, keys := range []string{"gadgetry.pub", "cosign.pub"} {
		id := map[string]string{"gadgetry.pub": gKey, "cosign.pub": cKey}[keys]
		if out := s.ok(s.bin, "image", "verify", "{REG}/sig/signed:v1", "--store", offline, "--public-keys", keys); out != s.replace.Replace("verified {REG}/sig/signed:v1 ("+signed.String()+"): signed by trusted key "+id+" ("+keys+")\n") {
			t.Fatalf("offline image verify: %q", out)
		}
	}
	s.runLoads(append([]string{"run", "{REG}/sig/signed:v1", "--store", offline}, trusted...)...)
}

// The errors of sign, keygen, verify and the trust settings, whole.
func TestSignCLIErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("GADGETRY_CONFIG", filepath.Join(dir, "config.yaml"))
	t.Setenv("COSIGN_PASSWORD", "right")
	if out, err := imageCLI(t, "", "image", "keygen"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	store := []string{"--store", t.TempDir()}
	for _, tc := range []struct {
		name     string
		password *string // nil: COSIGN_PASSWORD unset
		config   string
		args     []string
		want     string
	}{
		{"sign without a key", nil, "", []string{"image", "sign", "localhost:5000/g:v1"},
			"image sign: give the private key with --key (e.g. cosign.key; gadgetry image keygen makes a key pair)"},
		{"sign with a missing key file", nil, "", []string{"image", "sign", "localhost:5000/g:v1", "--key", "none.key"},
			"image sign: reading the private key: open none.key: no such file or directory"},
		{"sign with the public key", nil, "", []string{"image", "sign", "localhost:5000/g:v1", "--key", "cosign.pub"},
			"image sign: cosign.pub is a public key; signing needs the private key (cosign.key, beside cosign.pub)"},
		{"sign with no password and no terminal", nil, "", []string{"image", "sign", "localhost:5000/g:v1", "--key", "cosign.key"},
			"image sign: cosign.key is encrypted: set $COSIGN_PASSWORD to the password (there is no terminal to ask for it on)"},
		{"sign with a wrong password", ptr("wrong"), "", []string{"image", "sign", "localhost:5000/g:v1", "--key", "cosign.key"},
			"image sign: decrypting cosign.key: wrong password (taken from $COSIGN_PASSWORD); set it to the password the key was made with"},
		{"keygen over a key", ptr("x"), "", []string{"image", "keygen"},
			"image keygen: cosign.key exists: remove it or choose another --output-key-prefix"},
		{"keygen with no password and no terminal", nil, "", []string{"image", "keygen", "--output-key-prefix", "other"},
			"image keygen: set $COSIGN_PASSWORD to the password (there is no terminal to ask for it on)"},
		{"verify without keys", nil, "", []string{"image", "verify", "localhost:5000/g:v1"},
			"verifying localhost:5000/g:v1: no trusted keys to verify with; pass --public-keys KEY.pub, or list the keys under publicKeys in " + dir + "/config.yaml"},
		{"verify an image the store lacks", nil, "", []string{"image", "verify", "localhost:5000/g:v1", "--public-keys", "cosign.pub"},
			"verifying localhost:5000/g:v1: not in the local store (the store is empty) (to verify the image in its registry, add --remote)"},
		{"a missing public key file", nil, "", []string{"run", "localhost:5000/g:v1", "--public-keys", "none.pub"},
			"reading public key: open none.pub: no such file or directory"},
		{"a private key as a public key", nil, "", []string{"image", "pull", "localhost:5000/g:v1", "--public-keys", "cosign.key"},
			"cosign.key holds a private key (ENCRYPTED SIGSTORE PRIVATE KEY); trust its public key instead (cosign.pub, beside cosign.key)"},
		{"a config file with a typo", nil, "publicKey: [cosign.pub]\n", []string{"run", "localhost:5000/g:v1"},
			"the configuration file " + dir + "/config.yaml: line 1: unknown key \"publicKey\" (did you mean publicKeys? the file knows publicKeys, insecureRegistries, registryCA, registryPrefix, registryTimeout)"},
		{"a config file naming a missing key", nil, "publicKeys: [gone.pub]\n", []string{"image", "inspect", "localhost:5000/g:v1"},
			"reading public key: open " + dir + "/gone.pub: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.password == nil {
				os.Unsetenv("COSIGN_PASSWORD")
			} else {
				t.Setenv("COSIGN_PASSWORD", *tc.password)
			}
			os.Remove(filepath.Join(dir, "config.yaml"))
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append(append([]string{}, tc.args...), store...)
			out, err := imageCLI(t, "", args...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("gadgetry %s: %v\nwant %s\noutput: %s", strings.Join(args, " "), err, tc.want, out)
			}
		})
	}
}

func ptr(s string) *string { return &s }
