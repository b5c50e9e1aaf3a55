package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/oci/build/sdk"
)

// versionText is what `gadgetry version` prints for version v, built by goVersion.
func versionText(v, goVersion string) string {
	return fmt.Sprintf("gadgetry %s\n  guest SDK:  %s %s (supplied to image build)\n  WASM ABI:   1 (gadgetAPIVersion)\n  built with: %s %s/%s\n",
		v, sdk.Module, sdk.Version, goVersion, goruntime.GOOS, goruntime.GOARCH)
}

// TestVersion: `gadgetry version` and `gadgetry --version` print the same: the version set at
// link time (-ldflags -X main.version), else the one the module's build information records,
// with the guest SDK and the WASM ABI.
func TestVersion(t *testing.T) {
	goVersion := strings.TrimSpace(runTool(t, "go", "env", "GOVERSION"))
	// The test binary: built from a checkout with -buildvcs as the environment says; its
	// version is what `go version -m` reads from it.
	bin := runTestBinary(t)
	info := runTool(t, "go", "version", "-m", bin)
	want := "(devel)"
	var rev, modified string
	for _, l := range strings.Split(info, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[2] != "(devel)":
			want = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			rev = strings.TrimPrefix(f[1], "vcs.revision=")[:12]
		case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
			modified = "-dirty"
		}
	}
	if want == "(devel)" && rev != "" {
		want += " " + rev + modified
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if got := runCLI(t, cliEnv(t), "", args...).ok(t); got != versionText(want, goVersion) {
			t.Errorf("gadgetry %s:\n%s\nwant\n%s", args[0], got, versionText(want, goVersion))
		}
	}
	// -ldflags wins.
	linked := filepath.Join(t.TempDir(), "gadgetry")
	runTool(t, "go", "build", "-ldflags", "-X main.version=v9.8.7", "-o", linked, ".")
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(linked, args...).Output()
		if err != nil || string(out) != versionText("v9.8.7", goVersion) {
			t.Errorf("gadgetry %s built with -X main.version=v9.8.7 (%v):\n%s\nwant\n%s", args[0], err, out, versionText("v9.8.7", goVersion))
		}
	}
}

// runTool runs a command and returns its stdout, failing the test on an error.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
