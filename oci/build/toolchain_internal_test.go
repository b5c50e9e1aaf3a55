package build

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

func TestParseTinyGoVersion(t *testing.T) {
	for _, tc := range []struct{ out, want, err string }{
		{out: "tinygo version 0.34.0-dev-8ab3a42e linux/amd64 (using go version go1.23.12 and LLVM version 16.0.6)\n", want: "tinygo 0.34.0-dev-8ab3a42e (go1.23.12, LLVM 16.0.6)"},
		{out: "tinygo version 0.39.1 linux/arm64 (using go version go1.25.0 and LLVM version 20.1.1)", want: "tinygo 0.39.1 (go1.25.0, LLVM 20.1.1)"},
		{out: "tinygo version 0.33.0 linux/amd64 (using go version go1.22.5 and LLVM version 18.1.2)", err: "/x/tinygo is TinyGo 0.33.0; gadgetry builds with TinyGo 0.34.x up to, not including, 0.40: install a release in that range, or build with the standard Go toolchain (--wasm-toolchain=go)"},
		{out: "tinygo version 0.40.0 linux/amd64 (using go version go1.26.0 and LLVM version 20.1.1)", err: "/x/tinygo is TinyGo 0.40.0; gadgetry builds with TinyGo 0.34.x up to, not including, 0.40: install a release in that range, or build with the standard Go toolchain (--wasm-toolchain=go)"},
		{out: "go version go1.26.8 linux/amd64", err: `/x/tinygo: cannot read its version from "go version go1.26.8 linux/amd64": is it TinyGo?`},
	} {
		v, err := parseTinyGoVersion("/x/tinygo", tc.out)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.out, err, tc.err)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.out, v.String(), err, tc.want)
		}
	}
}

// TestFindTinyGoRefusesOldRelease runs a stand-in tinygo that reports 0.30: the build is
// refused with the supported range before anything is compiled.
func TestFindTinyGoRefusesOldRelease(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "tinygo")
	script := "#!/bin/sh\necho 'tinygo version 0.30.0 linux/amd64 (using go version go1.21.0 and LLVM version 16.0.6)'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tc := &toolchain{tinyGo: fake}
	_, _, err := tc.findTinyGo(context.Background())
	want := fake + " is TinyGo 0.30.0; gadgetry builds with TinyGo 0.34.x up to, not including, 0.40"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want it to start %q", err, want)
	}

	t.Setenv("PATH", dir+"/none")
	t.Setenv("TINYGO", "")
	_, _, err = (&toolchain{}).findTinyGo(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "tinygo not found in PATH: install TinyGo 0.34.x") {
		t.Fatalf("without TinyGo: %v", err)
	}
}

// TestMultiarchHint: an architecture without <asm/...> headers on the machine gets a hint
// naming the package, in the compile error.
func TestMultiarchHint(t *testing.T) {
	if d := multiarchInclude("amd64"); d == "" && os.Getenv("CI") == "true" {
		t.Errorf("no amd64 multiarch directory with asm/types.h (scripts/setup.sh installs linux-libc-dev)")
	}
	saved := map[string][]string{}
	for a, d := range multiarchDirs {
		saved[a] = d
	}
	defer func() {
		for a, d := range saved {
			multiarchDirs[a] = d
		}
	}()
	// Without the target's directory, the build machine's own serves (IG's builder's way).
	multiarchDirs["arm64"] = []string{filepath.Join(t.TempDir(), "none")}
	if d := multiarchInclude("arm64"); d != multiarchInclude(goruntime.GOARCH) {
		t.Errorf("arm64 without its headers: %q, want the build machine's %q", d, multiarchInclude(goruntime.GOARCH))
	}
	for a := range multiarchDirs {
		multiarchDirs[a] = []string{filepath.Join(t.TempDir(), "none")}
	}
	if d := multiarchInclude("arm64"); d != "" {
		t.Fatalf("multiarchInclude found %s in an empty directory", d)
	}
	h := multiarchHint("arm64")
	if !strings.Contains(h, "apt-get install linux-libc-dev-arm64-cross") || !strings.Contains(h, "--arch") {
		t.Errorf("hint %q", h)
	}
}

func TestShellQuote(t *testing.T) {
	got := commandLine("clang", []string{"-I/a b", "-DX='1'", "-c", "p.c", ""})
	want := `clang '-I/a b' '-DX='\''1'\''' -c p.c ''`
	if got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func TestSpecWASMToolchain(t *testing.T) {
	for _, tc := range []struct{ yaml, want, err string }{
		{yaml: "wasm-toolchain: tinygo\n", want: ToolchainTinyGo},
		{yaml: "wasm-toolchain: go\n", want: ToolchainGo},
		{yaml: "wasm: go\n", want: ""},
		{yaml: "wasm-toolchain: rust\n", err: `build.yaml: wasm-toolchain "rust" is not supported: use "go" or "tinygo"`},
	} {
		dir := t.TempDir()
		for name, text := range map[string]string{"program.bpf.c": "", "build.yaml": tc.yaml} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, "go"), 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSpec(dir, nil)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || s.WASMToolchain != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.yaml, s.WASMToolchain, err, tc.want)
		}
	}
}
