package sdk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeMod(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	checkout := filepath.Join(root, "checkout")
	writeMod(t, checkout, "module "+Module+"\n\ngo 1.23\n")
	if err := os.WriteFile(filepath.Join(checkout, "version.go"), []byte("package wasmapi\n\nconst Version = \"v0.1.7\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mod string
		want      Use
		err       string
	}{
		{name: "supplied", mod: "require " + Module + " v0.1.0\n",
			want: Use{Required: "v0.1.0", Version: Version, Supplied: true, GoVersion: "1.23"}},
		{name: "same version", mod: "require " + Module + " " + Version + "\n",
			want: Use{Required: Version, Version: Version, Supplied: true, GoVersion: "1.23"}},
		{name: "newer than provided", mod: "require " + Module + " v0.99.0\n",
			err: "requires " + Module + " v0.99.0, but this gadgetry provides " + Version + ": upgrade gadgetry, or add `replace " + Module + " => DIR` for a checkout of that SDK"},
		{name: "other major", mod: "require " + Module + " v1.0.0\n",
			err: "requires " + Module + " v1.0.0, but this gadgetry provides " + Version},
		{name: "replaced by a checkout", mod: "require " + Module + " v0.0.0\n\nreplace " + Module + " => ../checkout\n",
			want: Use{Required: "v0.0.0", Version: "v0.1.7", Replace: "../checkout", GoVersion: "1.23"}},
		{name: "replaced by a module version", mod: "require " + Module + " v0.0.0\n\nreplace " + Module + " => example.com/fork/wasmapi v0.3.0\n",
			want: Use{Required: "v0.0.0", Replace: "example.com/fork/wasmapi v0.3.0", GoVersion: "1.23"}},
		{name: "no SDK", mod: "", want: Use{GoVersion: "1.23"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(tc.name, " ", "_"))
			writeMod(t, dir, "module example.com/g\n\ngo 1.23\n\n"+tc.mod)
			got, err := Resolve(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestDir writes the SDK once, keeps an intact copy and rewrites a damaged one.
func TestDir(t *testing.T) {
	t.Setenv("GADGETRY_SDK_CACHE", t.TempDir())
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(dir), "wasmapi@"+Version+"-") {
		t.Errorf("directory %s is not named by the version", dir)
	}
	for _, f := range []string{"go.mod", "version.go", "exports_wasm.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the SDK copy lacks %s: %v", f, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*_test.go")); len(m) > 0 {
		t.Errorf("tests were copied: %v", m)
	}
	again, err := Dir()
	if err != nil || again != dir {
		t.Fatalf("second Dir = %s, %v; want %s", again, err, dir)
	}
	// A damaged copy (a file changed by hand) is written again.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "version.go"), 0o644)
	if err := os.WriteFile(filepath.Join(dir, "version.go"), []byte("package wasmapi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "version.go"))
	if err != nil || !strings.Contains(string(b), Version) {
		t.Fatalf("the damaged copy was not rewritten: %q, %v", b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".wasmapi-*")); len(m) > 0 {
		t.Errorf("temporary directories left behind: %v", m)
	}
}

func TestWorkspaceGoVersion(t *testing.T) {
	t.Setenv("GADGETRY_SDK_CACHE", t.TempDir())
	mod := filepath.Join(t.TempDir(), "with space")
	writeMod(t, mod, "module example.com/g\n\ngo 1.25.1\n\nrequire "+Module+" "+Version+"\n")
	u, err := Resolve(mod)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Workspace(t.TempDir(), mod, u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "go 1.25.1\n") || !strings.Contains(string(b), `"`+mod+`"`) {
		t.Errorf("go.work:\n%s", b)
	}
}

func TestSetRequirement(t *testing.T) {
	dir := t.TempDir()
	writeMod(t, dir, "module example.com/g\n\ngo 1.23\n\n// the SDK\nrequire "+Module+" v0.1.0\n")
	if err := SetRequirement(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(b), "require "+Module+" "+Version) || !strings.Contains(string(b), "// the SDK") {
		t.Errorf("go.mod:\n%s", b)
	}
}
