package build

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// The WASM toolchains a build can use (build.yaml `wasm-toolchain:`, Options.WASMToolchain).
const (
	// ToolchainGo is the standard Go toolchain (GOOS=wasip1 GOARCH=wasm, Go ≥ 1.24), the
	// default.
	ToolchainGo = "go"
	// ToolchainTinyGo is TinyGo (-target=wasip1), within TinyGoMin and TinyGoMax.
	ToolchainTinyGo = "tinygo"
)

// Annotations on the WASM layer's descriptor saying what built the module.
const (
	// AnnotationWASMToolchain is the toolchain and its version: "go1.26.8", or "tinygo
	// 0.34.0 (go1.23.12, LLVM 16.0.6)".
	AnnotationWASMToolchain = "io.gadgetry.wasm.toolchain"
	// AnnotationWASMSDK is the guest SDK module and version the module was built with
	// ("github.com/gadgetry/gadgetry/wasmapi v0.2.0"); absent for a module without it.
	AnnotationWASMSDK = "io.gadgetry.wasm.sdk"
)

// The TinyGo releases a build accepts: from TinyGoMin (the first with //go:wasmexport) up to,
// not including, TinyGoMax (releases not yet tried).
const (
	TinyGoMin = "0.34"
	TinyGoMax = "0.40"
)

// tinyGoVersion is what `tinygo version` says.
type tinyGoVersion struct {
	version, goVersion, llvm string
	major, minor             int
}

func (v tinyGoVersion) String() string {
	return fmt.Sprintf("tinygo %s (%s, LLVM %s)", v.version, v.goVersion, v.llvm)
}

var tinyGoVersionRE = regexp.MustCompile(`^tinygo version (\d+)\.(\d+)(\S*) \S+ \(using go version (\S+) and LLVM version (\S+)\)`)

// parseTinyGoVersion reads `tinygo version` output and checks the release is supported.
func parseTinyGoVersion(bin, out string) (tinyGoVersion, error) {
	out = strings.TrimSpace(out)
	m := tinyGoVersionRE.FindStringSubmatch(out)
	if m == nil {
		return tinyGoVersion{}, fmt.Errorf("%s: cannot read its version from %q: is it TinyGo?", bin, firstLine(out))
	}
	v := tinyGoVersion{version: m[1] + "." + m[2] + m[3], goVersion: m[4], llvm: m[5]}
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	if !tinyGoSupported(v.major, v.minor) {
		return v, fmt.Errorf("%s is TinyGo %s; gadgetry builds with TinyGo %s.x up to, not including, %s: install a release in that range, or build with the standard Go toolchain (--wasm-toolchain=go)", bin, v.version, TinyGoMin, TinyGoMax)
	}
	return v, nil
}

func tinyGoSupported(major, minor int) bool {
	parse := func(s string) (int, int) {
		a, b, _ := strings.Cut(s, ".")
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x, y
	}
	lm, ln := parse(TinyGoMin)
	hm, hn := parse(TinyGoMax)
	v := major*1000 + minor
	return v >= lm*1000+ln && v < hm*1000+hn
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TinyGoPath finds the TinyGo a build without Options.TinyGo uses: $TINYGO, else tinygo in
// PATH. It does not check the version.
func TinyGoPath() (string, error) { return exec.LookPath(cmp.Or(os.Getenv("TINYGO"), "tinygo")) }

// findTinyGo finds TinyGo (the option, $TINYGO, then tinygo in PATH) and checks its version.
func (tc *toolchain) findTinyGo(ctx context.Context) (string, tinyGoVersion, error) {
	explicit := cmp.Or(tc.tinyGo, os.Getenv("TINYGO"))
	p, err := exec.LookPath(cmp.Or(explicit, "tinygo"))
	if err != nil {
		if explicit != "" {
			return "", tinyGoVersion{}, fmt.Errorf("TinyGo %q (from --tinygo or $TINYGO) not found: %w", explicit, err)
		}
		return "", tinyGoVersion{}, fmt.Errorf("tinygo not found in PATH: install TinyGo %s.x or later (before %s) from https://tinygo.org, name it with $TINYGO, or build with the standard Go toolchain (--wasm-toolchain=go)", TinyGoMin, TinyGoMax)
	}
	out, err := exec.CommandContext(ctx, p, "version").CombinedOutput()
	if err != nil {
		return "", tinyGoVersion{}, fmt.Errorf("%s version: %w: %s", p, err, strings.TrimSpace(string(out)))
	}
	v, err := parseTinyGoVersion(p, string(out))
	if err != nil {
		return "", tinyGoVersion{}, err
	}
	return p, v, nil
}

// tinyGoArgs are TinyGo's arguments for a gadget module: a WASI reactor (c-shared) without
// debug information, and without the asyncify scheduler, which makes every exported call
// (each event's callback) about 200 times slower and which gadgets, having no goroutines that
// outlive a call, do not need.
//
// The module starts with tinyGoInitialMemory of linear memory. TinyGo's heap is what the
// initial memory leaves after the module's data, and it grows only when a collection frees
// less than a third of it: a gadget keeps little live data, so with the linker's default
// (the data plus a few KiB) the heap never grew and a collection, which scans the module's
// data conservatively and sweeps the heap, ran every few dozen to few hundred events.
// -opt=s instead of TinyGo's default -opt=z lets LLVM inline small functions (the allocator's
// and collector's per-block helpers were calls) for a module about 3% larger.
func tinyGoArgs(out string) []string {
	return []string{"build", "-target=wasip1", "-buildmode=c-shared", "-scheduler=none", "-no-debug",
		"-opt=s", fmt.Sprintf("-ldflags=-extldflags=--initial-memory=%d", tinyGoInitialMemory), "-o", out, "."}
}

// tinyGoInitialMemory is a TinyGo module's initial linear memory (a multiple of 64 KiB).
// A standard Go module starts with about 2.6 MiB and grows to 3.5 to 8 MiB in the built-in
// gadgets; memory the guest never touches costs nothing (runtime/wasm reserves it unmapped).
const tinyGoInitialMemory = 4 << 20
