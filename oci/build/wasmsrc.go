package build

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Inspektor Gadget's build.yaml names the WASM module's source file (`wasm: go/program.go`,
// `wasm: rust/src/lib.rs`) and its builder compiles it; a `.wasm` file is taken as built. This
// file builds those two source forms.

// buildWASMFile builds the Go source file dir/file into a WASI reactor: `go build` of that
// file (its package main) in the file's directory, as IG's builder does, so the directory's
// go.mod (or the first one above it) decides the module and its requirements.
func (tc *toolchain) buildWASMFile(ctx context.Context, dir, file, toolchainName string, progress io.Writer) (wasmBuild, error) {
	modDir := filepath.Join(dir, filepath.Dir(file))
	return tc.buildGo(ctx, modDir, file, filepath.Base(file), toolchainName, progress)
}

// RustTarget is the Rust target a Rust WASM guest is compiled for.
const RustTarget = "wasm32-wasip1"

// buildRust builds the Rust guest whose source is dir/file (rust/src/lib.rs): the cargo package
// in the file's parent's parent directory, `cargo build --target wasm32-wasip1 --release`, whose
// cdylib named after the package becomes the module.
func (tc *toolchain) buildRust(ctx context.Context, dir, file string, progress io.Writer) (wasmBuild, error) {
	pkgDir := filepath.Join(dir, filepath.Dir(file), "..")
	manifest := filepath.Join(pkgDir, "Cargo.toml")
	name, err := cargoPackageName(manifest)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: %w", file, err)
	}
	cargo, err := findTool("cargo", "", "CARGO", "cargo")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: cargo is not installed (looked for $CARGO, then cargo in PATH): install Rust with the %s target (rustup target add %s), or build the module elsewhere and name the .wasm file in build.yaml's wasm key", file, RustTarget, RustTarget)
	}
	version, err := toolVersion(ctx, "rustc", "--version")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: cargo is installed but rustc does not run (%v): install Rust with the %s target, or build the module elsewhere and name the .wasm file in build.yaml's wasm key", file, err, RustTarget)
	}
	if err := rustHasTarget(ctx, RustTarget); err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: %s has no %s target (%v): add it with `rustup target add %s`, or build the module elsewhere and name the .wasm file in build.yaml's wasm key", file, version, RustTarget, err, RustTarget)
	}
	tmpDir, err := os.MkdirTemp("", "gadgetry-cargo-")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	fmt.Fprintf(progress, "building WASM module from %s with %s (cargo build --target %s --release)\n", file, version, RustTarget)
	env := []string{"CARGO_TARGET_DIR=" + tmpDir}
	if err := run(ctx, pkgDir, env, progress, cargo, "build", "--target", RustTarget, "--release", "--manifest-path", manifest); err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s failed: %w", file, err)
	}
	// cargo names a cdylib after the package, dashes turned to underscores.
	out := filepath.Join(tmpDir, RustTarget, "release", strings.ReplaceAll(name, "-", "_")+".wasm")
	module, err := os.ReadFile(out)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: cargo gave no %s (is the package a cdylib? set [lib] crate-type = [\"cdylib\"] in Cargo.toml): %w", file, filepath.Base(out), err)
	}
	if err := checkWASM(file, module); err != nil {
		return wasmBuild{}, err
	}
	return wasmBuild{module: module, annotations: map[string]string{AnnotationWASMToolchain: version}}, nil
}

// cargoPackageName reads the package name from a Cargo.toml's [package] table.
func cargoPackageName(manifest string) (string, error) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return "", fmt.Errorf("reading the cargo manifest (IG's layout: rust/Cargo.toml beside rust/src/): %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	inPackage := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inPackage = line == "[package]"
			continue
		}
		if !inPackage {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "name" {
			continue
		}
		v = strings.TrimSpace(v)
		if i := strings.Index(v, "#"); i > 0 && !strings.HasPrefix(v, "#") {
			v = strings.TrimSpace(v[:i])
		}
		v = strings.Trim(v, `"'`)
		if v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s has no name in its [package] table", manifest)
}

// toolVersion runs `name args...` and returns its first output line.
func toolVersion(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line, nil
}

// rustHasTarget reports whether the Rust toolchain in PATH has the standard library of target
// installed (its sysroot's lib/rustlib/<target>/lib).
func rustHasTarget(ctx context.Context, target string) error {
	out, err := exec.CommandContext(ctx, "rustc", "--print", "sysroot").Output()
	if err != nil {
		return fmt.Errorf("rustc --print sysroot: %w", err)
	}
	sysroot := strings.TrimSpace(string(out))
	lib := filepath.Join(sysroot, "lib", "rustlib", target, "lib")
	if fi, err := os.Stat(lib); err != nil || !fi.IsDir() {
		return errors.New("no " + lib)
	}
	return nil
}
