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

// rustTargetOld is RustTarget's name before Rust 1.78 (the same WASI preview 1 target), which
// older toolchains, Debian 12's rustc 1.63 with libstd-rust-dev-wasm32 among them, still use.
const rustTargetOld = "wasm32-wasi"

// buildRust builds the Rust guest whose source is dir/file (rust/src/lib.rs): the cargo package
// in the file's parent's parent directory, `cargo build --target wasm32-wasip1 --release`, whose
// cdylib named after the package becomes the module.
//
// cargo is $CARGO or cargo in PATH; rustc is $RUSTC, else the rustc beside that cargo, else
// rustc in PATH, and cargo is given it, so the version checked is the one that compiles. A
// toolchain whose standard library has only the target's old name (wasm32-wasi) builds for that.
func (tc *toolchain) buildRust(ctx context.Context, dir, file string, progress io.Writer) (wasmBuild, error) {
	pkgDir := filepath.Join(dir, filepath.Dir(file), "..")
	manifest := filepath.Join(pkgDir, "Cargo.toml")
	name, err := cargoPackageName(manifest)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: %w", file, err)
	}
	cargo, err := findTool("cargo", "", "CARGO", "cargo")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: cargo is not installed (%v): install Rust with the %s target (rustup target add %s; on Debian 12, apt install cargo libstd-rust-dev-wasm32), or build the module elsewhere and name the .wasm file in build.yaml's wasm key", file, err, RustTarget, RustTarget)
	}
	rustc, version, target, err := RustToolchain(ctx, cargo, pkgDir)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: %w, or build the module elsewhere and name the .wasm file in build.yaml's wasm key", file, err)
	}
	tmpDir, err := os.MkdirTemp("", "gadgetry-cargo-")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	fmt.Fprintf(progress, "building WASM module from %s with %s (cargo build --target %s --release)\n", file, version, target)
	env := []string{"CARGO_TARGET_DIR=" + tmpDir, "RUSTC=" + rustc}
	if err := run(ctx, pkgDir, env, progress, cargo, "build", "--target", target, "--release", "--manifest-path", manifest); err != nil {
		if strings.Contains(err.Error(), "lock file version") {
			cv, _ := toolVersion(ctx, cargo, "--version")
			return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s failed: the package's Cargo.lock is newer than %s understands: build with a newer Rust (1.78 or later, with the %s target), or build the module elsewhere and name the .wasm file in build.yaml's wasm key: %w", file, cv, RustTarget, err)
		}
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s failed: %w", file, err)
	}
	// cargo names a cdylib after the package, dashes turned to underscores.
	out := filepath.Join(tmpDir, target, "release", strings.ReplaceAll(name, "-", "_")+".wasm")
	module, err := os.ReadFile(out)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the Rust WASM module %s: cargo gave no %s (is the package a cdylib? set [lib] crate-type = [\"cdylib\"] in Cargo.toml): %w", file, filepath.Base(out), err)
	}
	if err := checkWASM(file, module); err != nil {
		return wasmBuild{}, err
	}
	return wasmBuild{module: module, annotations: map[string]string{AnnotationWASMToolchain: version}}, nil
}

// RustToolchain returns the rustc that `gadgetry image build` uses with cargo (see buildRust),
// its version line, and the WASI preview 1 target its standard library is installed for
// (RustTarget, or the name older toolchains give it, wasm32-wasi); an error says what is missing
// and how to add it. rustc runs in dir, the cargo package's directory, so that a rustup
// toolchain file there picks the same toolchain cargo will.
func RustToolchain(ctx context.Context, cargo, dir string) (rustc, version, target string, err error) {
	if rustc, err = rustcFor(cargo); err != nil {
		return "", "", "", err
	}
	if version, err = firstLineIn(ctx, dir, rustc, "--version"); err != nil {
		from := "cargo is installed but " + rustc
		if os.Getenv("RUSTC") != "" {
			from = "$RUSTC, " + rustc + ","
		}
		return "", "", "", fmt.Errorf("%s does not run (%v): install Rust with the %s target", from, err, RustTarget)
	}
	if target, err = rustTarget(ctx, dir, rustc); err != nil {
		return "", "", "", fmt.Errorf("%s has no %s target (%v): add it with `rustup target add %s`", version, RustTarget, err, RustTarget)
	}
	return rustc, version, target, nil
}

// rustcFor returns the rustc that builds with cargo: $RUSTC, else the rustc in cargo's own
// directory (a toolchain installed as a pair), else rustc in PATH.
func rustcFor(cargo string) (string, error) {
	if os.Getenv("RUSTC") != "" {
		return findTool("rustc", "", "RUSTC")
	}
	beside := filepath.Join(filepath.Dir(cargo), "rustc")
	if fi, err := os.Stat(beside); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return beside, nil
	}
	p, err := exec.LookPath("rustc")
	if err != nil {
		return "", fmt.Errorf("cargo is %s but no rustc is beside it or in PATH: install Rust's rustc with the %s target, or name it with $RUSTC", cargo, RustTarget)
	}
	return p, nil
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
	return firstLineIn(ctx, "", name, args...)
}

// firstLineIn runs `name args...` in directory dir ("": the current one) and returns the first
// line of its output.
func firstLineIn(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line, nil
}

// rustTarget returns the WASI preview 1 target whose standard library rustc has installed (its
// sysroot's lib/rustlib/<target>/lib): RustTarget, or its old name rustTargetOld.
func rustTarget(ctx context.Context, dir, rustc string) (string, error) {
	sysroot, err := firstLineIn(ctx, dir, rustc, "--print", "sysroot")
	if err != nil {
		return "", fmt.Errorf("%s --print sysroot: %w", rustc, err)
	}
	for _, target := range []string{RustTarget, rustTargetOld} {
		lib := filepath.Join(sysroot, "lib", "rustlib", target, "lib")
		if fi, err := os.Stat(lib); err == nil && fi.IsDir() {
			return target, nil
		}
	}
	return "", errors.New("no " + filepath.Join(sysroot, "lib", "rustlib", RustTarget, "lib"))
}
