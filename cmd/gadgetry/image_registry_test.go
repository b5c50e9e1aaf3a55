package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// storeWith returns a store directory holding a gadget image tagged ref.
func storeWith(t *testing.T, ref string) string {
	t.Helper()
	dir := t.TempDir()
	s, err := oci.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(context.Background(), s, ref, ocitest.Simple("g")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storedDigest returns the digest ref names in the store at dir.
func storedDigest(t *testing.T, dir, ref string) string {
	t.Helper()
	s, err := oci.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

// keyPair writes a cosign key pair (password "pw") and returns the private and public key files.
func keyPair(t *testing.T) (string, string) {
	t.Helper()
	priv, pub, _, err := oci.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	if err := os.WriteFile(privFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return privFile, pubFile
}

// TestRegistryTimeouts: every registry operation against a registry that accepts connections
// and never answers fails with the limit of --registry-timeout, naming the host and the step
// that timed out, through the built binary. The test waits for each command's error: nothing
// is decided by how long it took.
func TestRegistryTimeouts(t *testing.T) {
	stub := silentRegistry(t)
	ref := stub + "/t/g:v1"
	store := storeWith(t, ref)
	digest := storedDigest(t, store, ref)
	priv, pub := keyPair(t)
	env := cliEnv(t, "GADGETRY_STORE="+store, "COSIGN_PASSWORD=pw")
	const (
		tls    = "registry {STUB} accepted the connection but did not complete the TLS handshake within 1s; check that a registry speaking HTTPS listens there, or wait longer with --registry-timeout"
		answer = "registry {STUB} accepted the connection but did not answer %s within 1s; if it is only slow, wait longer with --registry-timeout"
	)
	manifest := strings.Replace(answer, "%s", "HEAD /v2/t/g/manifests/v1", 1)
	insecure := "--insecure-registries=" + stub
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"pull over HTTPS", []string{"image", "pull", ref}, "pulling {REF}: " + tls},
		{"pull over plain HTTP", []string{"image", "pull", ref, insecure}, "pulling {REF}: " + manifest},
		{"run", []string{"run", ref, insecure, "--pull=always"}, "pulling {REF}: " + manifest},
		{"push", []string{"image", "push", ref, insecure}, "pushing {REF}: " + strings.Replace(answer, "%s", "HEAD /v2/t/g/manifests/{DIGEST}", 1)},
		{"login over HTTPS", []string{"login", stub, "-u", "u", "--password-stdin"}, "logging in to {STUB}: " + tls},
		{"login over plain HTTP", []string{"login", stub, "-u", "u", "--password-stdin", insecure}, "logging in to {STUB}: " + strings.Replace(answer, "%s", "GET /v2/", 1)},
		{"inspect --remote", []string{"image", "inspect", "--remote", ref, insecure}, "inspecting {REF}: " + manifest},
		{"sign", []string{"image", "sign", ref, "--key", priv, insecure}, "signing {REF}: " + manifest},
		{"verify --remote", []string{"image", "verify", "--remote", ref, "--public-keys", pub, insecure}, "verifying {REF}: " + manifest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, env, "pw\n", append(tc.args, "--registry-timeout=1s")...)
			want := strings.NewReplacer("{STUB}", stub, "{REF}", ref, "{DIGEST}", digest).Replace(tc.want)
			r.wantError(t, 1, want)
		})
	}
}

// TestRegistryTLSOptions: --insecure-registries naming an HTTPS registry says so (not "400
// Bad Request"), and --insecure reaches an HTTPS registry whose CA is not trusted.
func TestRegistryTLSOptions(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	ref := reg.Host + "/t/g:v1"
	env := cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref))
	runCLI(t, env, "", "image", "push", ref, "--registry-ca", reg.CAFile).ok(t)

	runCLI(t, env, "", "image", "pull", ref, "--insecure-registries", reg.Host).wantError(t, 1,
		"pulling "+ref+": registry "+reg.Host+" speaks HTTPS, but --insecure-registries "+reg.Host+" makes gadgetry talk plain HTTP to it: drop it from the insecure registries (from the flag, $GADGETRY_INSECURE_REGISTRIES or insecureRegistries of the config file) and trust its certificate with --registry-ca FILE, or skip the certificate check with --insecure")
	runCLI(t, env, "", "image", "pull", ref).wantError(t, 1,
		"pulling "+ref+": registry "+reg.Host+" has a certificate this machine does not trust (x509: certificate signed by unknown authority); pass --registry-ca FILE with its CA, or --insecure to skip the check")
	out := runCLI(t, cliEnv(t), "", "image", "pull", ref, "--insecure").ok(t)
	if !strings.HasPrefix(out, "pulled "+ref+" sha256:") {
		t.Errorf("pull --insecure: %q", out)
	}
}

// TestLoginPrompts: `gadgetry login` on a terminal asks for the user name and the password
// (not echoed), checks them against a registry with htpasswd and TLS, and saves them; a wrong
// password says so; logout forgets them. `image login` is the same command.
func TestLoginPrompts(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	env := cliEnv(t)
	authFile := filepath.Join(t.TempDir(), "auth.json")

	login := func(password string) (*pty, *exec.Cmd) {
		p := openPTY(t)
		cmd := exec.Command(runTestBinary(t), "login", reg.Host, "--registry-ca", reg.CAFile, "--authfile", authFile)
		cmd.Env = env
		p.start(t, cmd)
		p.waitFor(t, "Username for "+reg.Host+": ")
		p.write(t, reg.User+"\n")
		p.waitFor(t, "Password for "+reg.User+"@"+reg.Host+": ")
		p.write(t, password+"\n")
		return p, cmd
	}

	p, cmd := login("wrong")
	if err := cmd.Wait(); err == nil {
		t.Fatalf("login with a wrong password worked:\n%s", p.output())
	}
	p.waitFor(t, "Error: logging in to "+reg.Host+": wrong user name or password for "+reg.Host+` (user "gadgetry" was refused: 401 unauthorized)`)

	p, cmd = login(reg.Password)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login: %v\n%s", err, p.output())
	}
	p.waitFor(t, "logged in to "+reg.Host+" as "+reg.User)
	if strings.Contains(p.output(), reg.Password) {
		t.Errorf("the password was echoed:\n%q", p.output())
	}
	ref := reg.Host + "/t/g:v1"
	env2 := cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref))
	runCLI(t, env2, "", "image", "push", ref, "--registry-ca", reg.CAFile, "--authfile", authFile).ok(t)
	if out := runCLI(t, env, "", "image", "logout", reg.Host, "--authfile", authFile).ok(t); out != "logged out of "+reg.Host+"\n" {
		t.Errorf("image logout: %q", out)
	}
	runCLI(t, env, "", "image", "pull", ref, "--registry-ca", reg.CAFile, "--authfile", authFile).wantError(t, 1,
		"pulling "+ref+": registry "+reg.Host+" requires credentials and none are saved for it; run `gadgetry login "+reg.Host+"` or pass --authfile with a Docker config file that has them")

	// Without a terminal, what is missing is a usage error.
	runCLI(t, env, "", "login", reg.Host).wantError(t, 2, "login: give the user name with --username (there is no terminal to ask for it on)")
	runCLI(t, env, "", "login", reg.Host, "-u", "x").wantError(t, 2, "login: give the password with --password-stdin (there is no terminal to ask for it on)")
}

// TestPullProgress: a pull and a push show their progress on a terminal, and nothing on a pipe.
func TestPullProgress(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ref := reg.Host + "/t/g:v1"
	env := cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref), "GADGETRY_INSECURE_REGISTRIES="+reg.Host)
	runCLI(t, env, "", "image", "push", ref).ok(t)

	// On a pipe: stdout says what was pulled, stderr only the warning that it is unverified.
	r := runCLI(t, cliEnv(t, "GADGETRY_INSECURE_REGISTRIES="+reg.Host), "", "image", "pull", ref)
	if r.code != 0 || !strings.HasPrefix(r.stderr, "warning: "+ref+" is not verified") || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "\r") || !strings.HasPrefix(r.stdout, "pulled "+ref+" sha256:") {
		t.Errorf("pull on a pipe: exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
	}

	// On a terminal (stderr), the progress line is drawn and erased; stdout stays clean.
	p := openPTY(t)
	cmd := exec.Command(runTestBinary(t), "image", "pull", ref)
	cmd.Env = cliEnv(t, "GADGETRY_INSECURE_REGISTRIES="+reg.Host)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	p.start(t, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pull: %v\n%s", err, p.output())
	}
	p.waitFor(t, "\r\x1b[Kpulling "+ref+": ")
	p.waitFor(t, " done\r\x1b[K")
	if !strings.HasPrefix(stdout.String(), "pulled "+ref+" sha256:") {
		t.Errorf("stdout: %q", stdout.String())
	}

	// A push to a new repository, on a terminal.
	p = openPTY(t)
	ref2 := reg.Host + "/t/other:v1"
	cmd = exec.Command(runTestBinary(t), "image", "push", ref2)
	cmd.Env = cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref2), "GADGETRY_INSECURE_REGISTRIES="+reg.Host)
	stdout.Reset()
	cmd.Stdout = &stdout
	p.start(t, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("push: %v\n%s", err, p.output())
	}
	p.waitFor(t, "\r\x1b[Kpushing "+ref2+": ")
	p.waitFor(t, " done\r\x1b[K")
	if !strings.HasPrefix(stdout.String(), "pushed "+ref2+" sha256:") {
		t.Errorf("stdout of the push: %q", stdout.String())
	}
}

// TestRegistryConfig: the registry settings come from the config file, then the environment,
// then the flags, each replacing the one before.
func TestRegistryConfig(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ref := reg.Host + "/team/g:v1"
	runCLI(t, cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref)), "", "image", "push", ref, "--insecure-registries", reg.Host).ok(t)
	home := t.TempDir()
	config := filepath.Join(home, "config.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(config, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(extra ...string) []string {
		return cliEnv(t, append([]string{"GADGETRY_CONFIG=" + config}, extra...)...)
	}
	plainHTTP := "pulling " + ref + ": registry " + reg.Host + " speaks plain HTTP; pass --insecure-registries " + reg.Host + " to allow it"

	// The config file: insecureRegistries, and registryPrefix for a bare name.
	write("insecureRegistries: [" + reg.Host + "]\nregistryPrefix: " + reg.Host + "/team\n")
	if out := runCLI(t, env(), "", "image", "pull", "g:v1").ok(t); !strings.HasPrefix(out, "pulled "+ref+" sha256:") {
		t.Errorf("pull with the config file: %q", out)
	}
	// The environment replaces the file, the flag replaces the environment.
	runCLI(t, env("GADGETRY_INSECURE_REGISTRIES=other:5000"), "", "image", "pull", ref).wantError(t, 1, plainHTTP)
	runCLI(t, env("GADGETRY_INSECURE_REGISTRIES=other:5000"), "", "image", "pull", ref, "--insecure-registries", reg.Host).ok(t)
	runCLI(t, env(), "", "image", "pull", ref, "--insecure-registries=").wantError(t, 1, plainHTTP)
	if out := runCLI(t, env("GADGETRY_REGISTRY_PREFIX="+reg.Host+"/other"), "", "image", "pull", "g:v1", "--registry-prefix", reg.Host+"/team").ok(t); !strings.HasPrefix(out, "pulled "+ref) {
		t.Errorf("--registry-prefix over the environment: %q", out)
	}

	// registryTimeout, then $GADGETRY_REGISTRY_TIMEOUT, then --registry-timeout.
	stub := silentRegistry(t)
	write("insecureRegistries: [" + stub + "]\nregistryTimeout: 1s\n")
	timedOut := func(after string) string {
		return "pulling " + stub + "/t/g:v1: registry " + stub + " accepted the connection but did not answer HEAD /v2/t/g/manifests/v1 within " + after + "; if it is only slow, wait longer with --registry-timeout"
	}
	runCLI(t, env(), "", "image", "pull", stub+"/t/g:v1").wantError(t, 1, timedOut("1s"))
	runCLI(t, env("GADGETRY_REGISTRY_TIMEOUT=2s"), "", "image", "pull", stub+"/t/g:v1").wantError(t, 1, timedOut("2s"))
	runCLI(t, env("GADGETRY_REGISTRY_TIMEOUT=2s"), "", "image", "pull", stub+"/t/g:v1", "--registry-timeout=1500ms").wantError(t, 1, timedOut("1.5s"))
	runCLI(t, env(), "", "image", "pull", stub+"/t/g:v1", "--registry-timeout=soon").wantError(t, 1, `--registry-timeout: "soon" is not a duration (like 30s or 2m) or a number of seconds`)

	// registryCA, relative to the file.
	tlsReg := testregistry.Start(t, testregistry.Options{TLS: true})
	tlsRef := tlsReg.Host + "/t/g:v1"
	tlsStore := storeWith(t, tlsRef)
	tlsDigest := storedDigest(t, tlsStore, tlsRef)
	runCLI(t, cliEnv(t, "GADGETRY_STORE="+tlsStore), "", "image", "push", tlsRef, "--registry-ca", tlsReg.CAFile).ok(t)
	ca, err := os.ReadFile(tlsReg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	write("registryCA: ca.pem\n")
	runCLI(t, env(), "", "image", "pull", tlsRef).ok(t)
	runCLI(t, env("GADGETRY_REGISTRY_CA="+filepath.Join(home, "nothing.pem")), "", "image", "pull", tlsRef).wantError(t, 1,
		"reading the registry CA file: open "+filepath.Join(home, "nothing.pem")+": no such file or directory")

	// publicKeys from the environment: verification is required.
	_, pub := keyPair(t)
	runCLI(t, env("GADGETRY_PUBLIC_KEYS="+pub), "", "image", "pull", tlsRef).wantError(t, 1,
		"verifying "+tlsRef+": not signed: the registry has no signature for "+tlsDigest+" (no tag "+strings.Replace(tlsDigest, ":", "-", 1)+".sig); sign it (gadgetry image sign, or cosign sign --key), or pass --verify-image=false to use it unverified")

	// A key the file does not know.
	write("insecureRegistry: [x]\n")
	runCLI(t, env(), "", "image", "pull", ref).wantError(t, 1,
		"the configuration file "+config+`: line 1: unknown key "insecureRegistry" (did you mean insecureRegistries? the file knows publicKeys, insecureRegistries, registryCA, registryPrefix, registryTimeout)`)
	write("registryTimeout: 0s\n")
	runCLI(t, env(), "", "image", "pull", ref).wantError(t, 1,
		"the configuration file "+config+`: registryTimeout: "0s": the timeout must be more than zero`)
}
