package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestImageVerbs runs the image verbs as docker and oras users type them, through the built
// binary: list shows the built-ins, tag and export take them, -o json|yaml agree, import reads
// a .tar.gz, and a mistyped command line is a usage error (exit 2) that says what is wrong.
func TestImageVerbs(t *testing.T) {
	env := cliEnv(t)

	// image list: the built-ins first, marked; an empty store adds nothing.
	out := runCLI(t, env, "", "image", "list").ok(t)
	if !regexp.MustCompile(`(?m)^REFERENCE +DIGEST +ARCHITECTURES +SOURCE\n(.*\n)*trace_exec +[0-9a-f]{12} +amd64,arm64 +built-in$`).MatchString(out) {
		t.Errorf("image list:\n%s", out)
	}
	var rows []listedImage
	if err := json.Unmarshal([]byte(runCLI(t, env, "", "image", "ls", "-o", "json").ok(t)), &rows); err != nil {
		t.Fatal(err)
	}
	builtIn := map[string]string{}
	for _, r := range rows {
		if !r.BuiltIn {
			t.Errorf("image ls -o json of an empty store: %+v is not built in", r)
		}
		builtIn[r.Ref] = r.Digest
	}
	if builtIn["trace_exec"] == "" {
		t.Fatalf("image ls -o json: no trace_exec in %+v", rows)
	}
	yamlOut := runCLI(t, env, "", "image", "ls", "-o", "yaml").ok(t)
	if !strings.Contains(yamlOut, "- ref: trace_exec\n  digest: "+builtIn["trace_exec"]+"\n  mediaType: application/vnd.oci.image.index.v1+json\n  archs:\n    - amd64\n    - arm64\n  builtIn: true\n") {
		t.Errorf("image ls -o yaml:\n%s", yamlOut)
	}

	// inspect -o json: lower-camel keys, gadget.yaml's keys in the metadata; -o yaml the same.
	js := runCLI(t, env, "", "image", "inspect", "trace_exec", "-o", "json").ok(t)
	for _, k := range []string{`"ref": "trace_exec (built-in)"`, `"mediaType": `, `"metadata": {`, `"name": "trace_exec"`, `"datasources": {`, `"annotations": {`, `"programs": [`, `"keySize": `} {
		if !strings.Contains(js, k) {
			t.Errorf("image inspect -o json lacks %s", k)
		}
	}
	for _, k := range []string{`"Name"`, `"DataSources"`, `"Fields"`, `"Annotations"`} {
		if strings.Contains(js, k) {
			t.Errorf("image inspect -o json has the Go field name %s", k)
		}
	}
	if y := runCLI(t, env, "", "image", "inspect", "trace_exec", "-o", "yaml").ok(t); !strings.HasPrefix(y, "ref: trace_exec (built-in)\ndigest: "+builtIn["trace_exec"]+"\n") || !strings.Contains(y, "\nmetadata:\n  name: trace_exec\n") {
		t.Errorf("image inspect -o yaml:\n%.400s", y)
	}

	// tag and export of a built-in.
	if out := runCLI(t, env, "", "image", "tag", "trace_exec", "localhost:5000/mine/trace_exec:v1").ok(t); out != "trace_exec (built-in) → localhost:5000/mine/trace_exec:v1 ("+builtIn["trace_exec"]+")\n" {
		t.Errorf("image tag of a built-in: %q", out)
	}
	dir := t.TempDir()
	tarball := filepath.Join(dir, "g.tar")
	runCLI(t, env, "", "image", "export", "trace_exec", "localhost:5000/mine/trace_exec:v1", tarball).ok(t)
	raw, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(tarball+".gz", gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out = runCLI(t, cliEnv(t), "", "image", "import", tarball+".gz").ok(t)
	if want := "imported " + oci.DefaultPrefix + "/trace_exec:latest " + builtIn["trace_exec"] + "\nimported localhost:5000/mine/trace_exec:v1 " + builtIn["trace_exec"] + "\n"; out != want {
		t.Errorf("import of the .tar.gz:\n%s\nwant:\n%s", out, want)
	}
	if err := os.WriteFile(tarball+".zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, env, "", "image", "import", tarball+".zst").wantError(t, 1, "import: the file is compressed with zstd: decompress it first (zstd -d), gadgetry reads tar and tar.gz")

	// Usage errors: exit 2, what is wrong, and the usage.
	runCLI(t, env, "", "image", "lst").wantError(t, 2, "unknown command \"lst\" for \"gadgetry image\"; did you mean list? (see `gadgetry image --help`)")
	runCLI(t, env, "", "gadget", "int").wantError(t, 2, "unknown command \"int\" for \"gadgetry gadget\"; did you mean init? (see `gadgetry gadget --help`)")
	runCLI(t, env, "", "image", "tag", "trace_exec").wantError(t, 2, "gadgetry image tag: missing DST\nUsage: gadgetry image tag SRC DST [flags]")
	runCLI(t, env, "", "image", "export", "trace_exec").wantError(t, 2, "gadgetry image export: missing FILE\nUsage: gadgetry image export REF... FILE [flags]")
	runCLI(t, env, "", "login").wantError(t, 2, "gadgetry login: missing REGISTRY\nUsage: gadgetry login REGISTRY [flags]")
	runCLI(t, env, "", "image", "inspect", "trace_exec", "--remote", "false").wantError(t, 2,
		"gadgetry image inspect: unexpected argument \"false\": a boolean flag takes its value after '=': write --remote=false\nUsage: gadgetry image inspect REF [flags]")
	runCLI(t, env, "", "image", "list", "extra").wantError(t, 2, "gadgetry image list: unexpected argument \"extra\"\nUsage: gadgetry image list [flags]")
	if r := runCLI(t, env, "", "image"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("image alone: exit %d\n%s", r.code, r.stdout)
	}
	// -o only where there is something to list.
	runCLI(t, env, "", "image", "rm", "x", "-o", "json").wantError(t, 2, "unknown shorthand flag: 'o' in -o (see `gadgetry image rm --help`)")
}

// TestInspectInvalidMetadata: an image of the store whose gadget.yaml is invalid (built before
// image build checked it) says what is wrong, without pointing at --remote.
func TestInspectInvalidMetadata(t *testing.T) {
	dir := t.TempDir()
	s, err := oci.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := ocitest.Simple("bad")
	img.Metadata = []byte("name: bad\ndatasource:\n  bad: {}\n")
	if _, err := ocitest.Push(context.Background(), s, "localhost/bad:v1", img); err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t, "GADGETRY_STORE="+dir)
	runCLI(t, env, "", "image", "inspect", "localhost/bad:v1").wantError(t, 1,
		`inspecting localhost/bad:v1: the linux/amd64 manifest: the image's metadata: gadget.yaml:2: unknown key "datasource" in the metadata file (did you mean "datasources"?)`)
	runCLI(t, env, "", "image", "inspect", "localhost/bad:v2").wantError(t, 1,
		`inspecting localhost/bad:v2: not in the local store (available: localhost/bad:v1) (to inspect an image in its registry, add --remote)`)
}

// guideProgram returns the C program of docs/authoring.md's "The eBPF program" section.
func guideProgram(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "authoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## 2\\. The eBPF program\n\n```c\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/authoring.md has no ```c block under \"## 2. The eBPF program\"")
	}
	return string(m[1])
}

// TestImageBuildChecks: image build refuses, before anything is stored, a gadget.yaml with an
// unknown key and an object that needs a GPL-compatible license it lacks (the guide's program
// builds as written, and fails without its LICENSE line); a missing Go names Go, not clang.
func TestImageBuildChecks(t *testing.T) {
	gadgettest.RequireTool(t, "clang-19")
	store := t.TempDir()
	env := cliEnv(t, "GADGETRY_STORE="+store)
	program := guideProgram(t)
	if !strings.Contains(program, `char LICENSE[] SEC("license") = "GPL";`) {
		t.Fatalf("the guide's program declares no GPL license:\n%s", program)
	}
	gadget := func(program, yaml string) string {
		dir := t.TempDir()
		for name, content := range map[string]string{"program.bpf.c": program, "gadget.yaml": yaml} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	const yaml = "name: mygadget\ndatasources:\n  mygadget: {}\n"
	if out := runCLI(t, env, "", "image", "build", "--arch", "amd64", "-t", "localhost/guide:v1", gadget(program, yaml)).ok(t); !strings.HasPrefix(out, "sha256:") {
		t.Errorf("building the guide's program: %q", out)
	}

	noLicense := strings.Replace(program, `char LICENSE[] SEC("license") = "GPL";`, "", 1)
	r := runCLI(t, env, "", "image", "build", "--arch", "amd64", "-t", "localhost/guide:v2", gadget(noLicense, yaml))
	want := "Error: program.bpf.c declares no license, which the kernel does not take as GPL-compatible, but uses what only GPL-compatible programs may: helper bpf_get_current_task (program mygadget_exec), helper bpf_probe_read_kernel (program mygadget_exec), helper bpf_probe_read_kernel_str (program mygadget_exec); the kernel would refuse to load it. Add to program.bpf.c:\n\tchar LICENSE[] SEC(\"license\") = \"GPL\";\n(or \"Dual BSD/GPL\", \"Dual MIT/GPL\"...), or stop using these\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("build without a license: exit %d\nstderr: %q\nwant suffix: %q", r.code, r.stderr, want)
	}

	r = runCLI(t, env, "", "image", "build", "--arch", "amd64", "-t", "localhost/guide:v3", gadget(program, "name: mygadget\ndatasource:\n  mygadget: {}\n"))
	want = "Error: invalid metadata, nothing was built: gadget.yaml:2: unknown key \"datasource\" in the metadata file (did you mean \"datasources\"?)\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("build with datasource: exit %d\nstderr: %q\nwant suffix: %q", r.code, r.stderr, want)
	}
	if out := runCLI(t, env, "", "image", "list", "--no-builtin").ok(t); strings.Count(out, "\n") != 2 || !strings.Contains(out, "localhost/guide:v1") {
		t.Errorf("the refused builds stored something:\n%s", out)
	}

	// A gadget with go/ on a machine without go: the message is about Go.
	bin := t.TempDir()
	for _, tool := range []string{"clang-19", "llvm-strip-19"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	runCLI(t, env, "", "gadget", "init", filepath.Join(work, "g")).ok(t)
	noGo := append(env, "PATH="+bin)
	r = runCLI(t, noGo, "", "image", "build", "--arch", "amd64", filepath.Join(work, "g"))
	want = "Error: building the WASM module: go not found in PATH (tried go): the WASM module in go/ is built with Go 1.24 or later: install it (https://go.dev/dl, or Debian's golang-go where recent enough), build it with TinyGo (--wasm-toolchain=tinygo), or give a prebuilt module (wasm: in build.yaml), or name it with $GO\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) || strings.Contains(r.stderr, "clang-19 llvm-19") {
		t.Errorf("build without go: exit %d\nstderr: %q\nwant suffix: %q", r.code, r.stderr, want)
	}
}

// TestGuideRegistryConfig: the registry configuration docs/authoring.md starts (docs/registry.yml,
// the same text in the guide) listens on loopback only and asks for no credentials: started on
// another port and storage, it answers /v2/ with 200.
func TestGuideRegistryConfig(t *testing.T) {
	registry := gadgettest.RequireTool(t, "docker-registry")
	file, err := os.ReadFile(filepath.Join("..", "..", "docs", "registry.yml"))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join("..", "..", "docs", "authoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)cat > registry.yml <<'EOF'\n(.*?)\n *EOF\n`).FindSubmatch(guide)
	if m == nil {
		t.Fatal("docs/authoring.md does not write registry.yml with a heredoc")
	}
	indented := regexp.MustCompile(`(?m)^  `).ReplaceAllString(string(m[1]), "")
	if indented+"\n" != string(file) {
		t.Errorf("the guide's registry.yml differs from docs/registry.yml:\n%s\n---\n%s", indented, file)
	}
	if !strings.Contains(string(file), "addr: 127.0.0.1:5000\n") || strings.Contains(string(file), "auth") {
		t.Fatalf("docs/registry.yml should listen on 127.0.0.1:5000 without auth:\n%s", file)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := strings.NewReplacer("127.0.0.1:5000", addr, "/tmp/gadgetry-registry", t.TempDir()).Replace(string(file))
	cfgFile := filepath.Join(t.TempDir(), "registry.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registry, "serve", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v2/ of the guide's registry: %s, want 200 (no credentials)", resp.Status)
			}
			break
		}
		if i == 300 { // a hang guard: the registry never came up
			t.Fatalf("the guide's registry did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ref := addr + "/t/g:v1"
	env := cliEnv(t, "GADGETRY_STORE="+storeWith(t, ref))
	runCLI(t, env, "", "image", "push", ref, "--insecure-registries", addr).ok(t)
}

// TestDemoSetup: `make demo` runs setup.sh --demo, which installs no test tools and builds no
// Go programs (oras, cosign): with no go on PATH it has nothing to do and says nothing.
func TestDemoSetup(t *testing.T) {
	root := filepath.Join("..", "..")
	out, err := exec.Command("make", "-C", root, "-n", "demo").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n demo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "scripts/setup.sh --demo") || strings.Contains(string(out), "go install") {
		t.Errorf("make -n demo:\n%s", out)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "setup.sh"), "--demo")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("setup.sh --demo: %v\n%s", err, out)
	}
}
