package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/gadgetry/gadgetry/gadgets/include"
	"github.com/gadgetry/gadgetry/oci/build/sdk"
)

// toolchain holds the resolved paths of the external tools a build runs.
type toolchain struct {
	clang, strip, goBin, tinyGo string
	// headerAlias, when set, replaces the include directory's path in clang's diagnostics.
	headerAlias string
	// tree, when set, is the IG-style source tree holding the gadget: its include/ and
	// include/gadget/<arch>/ come before the gadget headers (igtree.go).
	tree *gadgetTree
}

// newToolchain finds clang and llvm-strip. The go binary is looked up lazily, only when the
// gadget has Go sources.
func newToolchain(opts Options) (*toolchain, error) {
	tc := &toolchain{goBin: opts.Go, tinyGo: opts.TinyGo}
	var err error
	tc.clang, err = findTool("clang", opts.Clang, "CLANG", "clang-19", "clang")
	if err != nil {
		return nil, err
	}
	// Prefer the llvm-strip of the same LLVM release as clang (clang-19 → llvm-strip-19).
	candidates := []string{"llvm-strip-19", "llvm-strip"}
	if i := strings.LastIndex(filepath.Base(tc.clang), "-"); i > 0 {
		candidates = append([]string{"llvm-strip" + filepath.Base(tc.clang)[i:]}, candidates...)
	}
	tc.strip, err = findTool("llvm-strip", opts.Strip, "LLVM_STRIP", candidates...)
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// findTool returns explicit if set, else $env if set, else the first candidate found in PATH.
func findTool(what, explicit, env string, candidates ...string) (string, error) {
	if explicit == "" {
		explicit = os.Getenv(env)
	}
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return "", fmt.Errorf("%s %q (from the option or $%s) not found: %w", what, explicit, env, err)
		}
		return p, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH (tried %s): %s, or name it with $%s", what, strings.Join(candidates, ", "), installHint(what), env)
}

// targetArch maps a GOARCH to the __TARGET_ARCH_ value libbpf's bpf_tracing.h expects.
func targetArch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x86", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %q is not supported: gadget images are built for amd64 and arm64", goarch)
}

// writeHeaders writes the embedded gadget headers to a temporary directory.
func writeHeaders() (string, func(), error) {
	return include.WriteTemp()
}

// includePrefix is what the header directory's path becomes in the object's debug and BTF
// line information, so that builds in different temporary directories are identical.
const includePrefix = "/gadgetry/include"

// arm64Shim, under the include directory, declares the arm64 register layout the x86
// vmlinux.h lacks. It is force-included in arm64 builds when the include directory has it.
const arm64Shim = "gadget/arm64_regs.h"

// compileEBPF compiles spec.EBPFSource for one architecture and strips DWARF (keeping .BTF and
// .BTF.ext). clang runs in the gadget directory with a relative source path, so its diagnostics
// read "program.bpf.c:LINE:COL: error: ...".
func (tc *toolchain) compileEBPF(ctx context.Context, dir string, spec Spec, includeDir, arch string, progress io.Writer) ([]byte, error) {
	ta, err := targetArch(arch)
	if err != nil {
		return nil, err
	}
	absInclude, err := filepath.Abs(includeDir)
	if err != nil {
		return nil, err
	}
	// clang sees every directory through a staging directory of one path length (newStage),
	// so the object does not depend on where the sources are checked out or on $TMPDIR.
	// unstage turns the staged paths back into the real ones for messages.
	st, err := newStage()
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", spec.EBPFSource, err)
	}
	defer os.RemoveAll(st)
	// stage links st/name to the real directory target; unstagePairs maps each back.
	var unstagePairs []string
	stage := func(name, target string) (string, error) {
		l := st + "/" + name
		if err := os.Symlink(target, l); err != nil {
			return "", fmt.Errorf("compiling %s: staging its directories: %w", spec.EBPFSource, err)
		}
		unstagePairs = append(unstagePairs, l, target)
		return l, nil
	}
	cdir, err := stage("src", dir)
	if err != nil {
		return nil, err
	}
	cinc, err := stage("include", absInclude)
	if err != nil {
		return nil, err
	}
	out := st + "/gadgetry-ebpf-" + arch + ".o"

	fmt.Fprintf(progress, "compiling %s for %s\n", spec.EBPFSource, arch)
	args := []string{
		"-target", "bpf",
		"-D__TARGET_ARCH_" + ta,
		"-O2", "-g", "-Wall",
		// No -mcpu: clang's default BPF ISA (v1 in clang 19), as IG's builder compiles. v3's
		// 32-bit jumps let IG's advise_seccomp pass the verifier, but made five of IG's
		// gadgets 7 to 27 times slower to verify (top_file 0.15 s → 3.9 s here): a gadget
		// that needs v3 says so in build.yaml (`cflags: -mcpu=v3`), whose flags come last.
		"-fno-ident",
		"-ffile-prefix-map=" + cinc + "=" + includePrefix,
		"-ffile-prefix-map=" + cdir + "=.",
	}
	treeHasVmlinux := false
	if tc.tree != nil {
		// The tree's paths as seen from the gadget directory, so objects do not depend on
		// where the tree is checked out.
		root, err := stage("tree", tc.tree.Root)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(dir, tc.tree.Root); err == nil {
			args = append(args, "-ffile-prefix-map="+root+"="+rel)
		}
		args = append(args, gadgetTree{Root: root, Include: root + "/include"}.includeArgs(arch)...)
		treeHasVmlinux = fileExists(filepath.Join(tc.tree.Include, "gadget", arch, "vmlinux.h"))
	}
	args = append(args, "-I"+cinc)
	if _, err := os.Stat(filepath.Join(absInclude, arm64Shim)); err == nil && arch == "arm64" && !treeHasVmlinux {
		// The shipped vmlinux.h is x86's; libbpf's arm64 PT_REGS macros need user_pt_regs.
		// (A tree's own arm64 vmlinux.h has it.)
		args = append(args, "-include", arm64Shim)
	}
	// A program written the libbpf way includes <linux/bpf.h>, which reaches <asm/types.h>:
	// that lives in the target architecture's multiarch directory, after everything else.
	if d := multiarchInclude(arch); d != "" {
		asmDir, err := stage("asm", d)
		if err != nil {
			return nil, err
		}
		args = append(args, "-idirafter", asmDir)
	}
	args = append(args, spec.CFlags...)
	args = append(args, "-c", spec.EBPFSource, "-o", out)
	unstage := strings.NewReplacer(unstagePairs...)
	// clang runs in the gadget directory and takes $PWD, which names that directory, as its
	// name: the staged one. (os/exec would set $PWD to the real path.)
	if err := run(ctx, dir, []string{"PWD=" + cdir}, progress, tc.clang, args...); err != nil {
		// The command as it ran in the gadget directory, with the temporary paths named as
		// the diagnostics name them: "." for the gadget directory, the header alias for the
		// embedded headers.
		cmdline := unstage.Replace(strings.ReplaceAll(commandLine(tc.clang, args), out, filepath.Base(out)))
		if tc.headerAlias != "" {
			cmdline = strings.ReplaceAll(cmdline, absInclude, tc.headerAlias)
		}
		cmdline = strings.ReplaceAll(cmdline, dir, ".")
		msg := unstage.Replace(err.Error())
		if tc.headerAlias != "" {
			msg = strings.ReplaceAll(msg, absInclude+"/", tc.headerAlias+"/")
		}
		msg += "\ncommand, in the gadget directory: " + cmdline
		if strings.Contains(msg, "'asm/") && multiarchInclude(arch) == "" {
			msg += "\n" + multiarchHint(arch)
		}
		return nil, fmt.Errorf("compiling %s for %s failed: %w", spec.EBPFSource, arch, errors.New(msg))
	}
	if err := run(ctx, dir, nil, progress, tc.strip, "-g", out); err != nil {
		return nil, fmt.Errorf("stripping DWARF from the %s object of %s: %w", arch, spec.EBPFSource, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the compiled %s object: %w", arch, err)
	}
	return data, nil
}

// wasmBuild is a built WASM module and what built it.
type wasmBuild struct {
	module []byte
	// annotations go on the WASM layer's descriptor: AnnotationWASMToolchain and, for a
	// module using the SDK, AnnotationWASMSDK.
	annotations map[string]string
}

// newStage creates an empty directory under $TMPDIR whose path has a length that does not
// depend on $TMPDIR (include.TempPathLen, or the next multiple of it that leaves room), for
// compileEBPF to reach the gadget directory, the headers and the multiarch directory through
// symbolic links of one length each.
//
// Why: LLVM's BTF writer (clang 19) emits some forward declarations in the order of their
// addresses on clang's heap, and that layout follows the lengths of the paths clang
// allocates: its working directory, its include directories, the headers under them (clang
// keeps each file's absolute path with dots removed, so padding a path with "/." does not
// help; a symbolic link's path is kept as it is). The same sources compiled in a clone at
// another path, or with another $TMPDIR (where the embedded headers are written), gave an
// object whose .BTF numbered two forward declarations the other way round, and a catalogue
// built here failed its check on another machine. Paths of one length give one layout
// (TestBuildIndependentOfPaths); the object itself carries no path (-ffile-prefix-map). clang
// also resolves the links to the real paths behind them, so the embedded headers' directory
// has one length too (include.WriteTemp): with os.MkdirTemp's names of varying length, about
// one build in twenty gave another object (TestBuildIntoLocalStore, under load).
func newStage() (string, error) {
	st, err := include.MkdirTempFixedLen("gadgetry-clang-")
	if err != nil {
		return "", fmt.Errorf("creating a staging directory: %w", err)
	}
	return st, nil
}

// multiarchDirs are where Debian keeps each architecture's <asm/...> kernel headers: the
// native multiarch directory, then the cross-compilation package's.
var multiarchDirs = map[string][]string{
	"amd64": {"/usr/include/x86_64-linux-gnu", "/usr/x86_64-linux-gnu/include"},
	"arm64": {"/usr/include/aarch64-linux-gnu", "/usr/aarch64-linux-gnu/include"},
}

// multiarchInclude returns the first multiarch include directory of arch that has asm/types.h;
// when the machine has none for arch, the build machine's own (as IG's builder does for every
// target: the UAPI types a BPF program reaches through <asm/types.h> are the same on the 64-bit
// architectures built here); empty when there is neither.
func multiarchInclude(arch string) string {
	for _, a := range []string{arch, goruntime.GOARCH} {
		for _, d := range multiarchDirs[a] {
			if _, err := os.Stat(filepath.Join(d, "asm", "types.h")); err == nil {
				return d
			}
		}
	}
	return ""
}

// multiarchHint says how to get an architecture's <asm/...> headers.
func multiarchHint(arch string) string {
	pkg := map[string]string{"amd64": "linux-libc-dev-amd64-cross", "arm64": "linux-libc-dev-arm64-cross"}[arch]
	return fmt.Sprintf("hint: the program includes kernel UAPI headers (<linux/bpf.h> needs <asm/types.h>) and this machine has none for %s (looked in %s): install them (Debian: apt-get install %s), include vmlinux.h instead, or build fewer architectures (--arch)", arch, strings.Join(multiarchDirs[arch], ", "), pkg)
}

// commandLine shows a command as a shell would read it back.
func commandLine(name string, args []string) string {
	parts := []string{shellQuote(name)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=+,:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// buildWASM builds the Go module in dir/wasmDir as a WASI reactor with the toolchain the spec
// or the options name, supplying the SDK when the module requires it (package sdk).
func (tc *toolchain) buildWASM(ctx context.Context, dir, wasmDir, toolchainName string, progress io.Writer) (wasmBuild, error) {
	modDir := filepath.Join(dir, wasmDir)
	if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err != nil {
		return wasmBuild{}, fmt.Errorf("building the WASM module: %s/ has no go.mod; the gadget's Go code must be its own module: run `go mod init <module path>` in %s (and `go mod tidy`)", wasmDir, modDir)
	}
	return tc.buildGo(ctx, modDir, wasmDir+"/", ".", toolchainName, progress)
}

// buildGo builds the Go package target ("." or a file name) in modDir as a WASI reactor;
// what names the sources in messages.
func (tc *toolchain) buildGo(ctx context.Context, modDir, what, target, toolchainName string, progress io.Writer) (wasmBuild, error) {
	wasmDir := strings.TrimSuffix(what, "/")
	var use sdk.Use
	if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err == nil {
		var err error
		if use, err = sdk.Resolve(modDir); err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module: %w", err)
		}
	}
	tmpDir, err := os.MkdirTemp("", "gadgetry-wasm-")
	if err != nil {
		return wasmBuild{}, fmt.Errorf("building the WASM module: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	out := filepath.Join(tmpDir, "gadget.wasm")

	var env []string
	if use.Supplied {
		work, err := sdk.Workspace(tmpDir, modDir, use)
		if err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module: supplying the wasmapi SDK: %w", err)
		}
		env = append(env, "GOWORK="+work)
	}
	b := wasmBuild{annotations: map[string]string{}}
	if use.Version != "" {
		b.annotations[AnnotationWASMSDK] = sdk.Module + " " + use.Version
	} else if use.Replace != "" {
		b.annotations[AnnotationWASMSDK] = sdk.Module + " => " + use.Replace
	}

	switch toolchainName {
	case "", ToolchainGo:
		goBin, err := findTool("go", tc.goBin, "GO", "go")
		if err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module: %w", err)
		}
		version, err := goVersion(ctx, goBin)
		if err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module: %w", err)
		}
		b.annotations[AnnotationWASMToolchain] = version
		fmt.Fprintf(progress, "building WASM module from %s with %s (GOOS=wasip1 GOARCH=wasm)%s\n", what, version, sdkNote(use))
		env = append(env, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if err := run(ctx, modDir, env, progress, goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, target); err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module from %s failed: %w", what, err)
		}
	case ToolchainTinyGo:
		bin, version, err := tc.findTinyGo(ctx)
		if err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module with TinyGo: %w", err)
		}
		b.annotations[AnnotationWASMToolchain] = version.String()
		fmt.Fprintf(progress, "building WASM module from %s with %s (-target=wasip1 -buildmode=c-shared -scheduler=none -opt=s)%s\n", what, version, sdkNote(use))
		args := tinyGoArgs(out)
		args[len(args)-1] = target
		if err := run(ctx, modDir, env, progress, bin, args...); err != nil {
			return wasmBuild{}, fmt.Errorf("building the WASM module from %s with TinyGo failed: %w", what, err)
		}
	default:
		return wasmBuild{}, fmt.Errorf("WASM toolchain %q is not supported: use %q or %q", toolchainName, ToolchainGo, ToolchainTinyGo)
	}
	b.module, err = os.ReadFile(out)
	if err != nil {
		return wasmBuild{}, fmt.Errorf("reading the built WASM module: %w", err)
	}
	if err := checkWASM(wasmDir, b.module); err != nil {
		return wasmBuild{}, err
	}
	return b, nil
}

// sdkNote says where the SDK of a build comes from, for the progress line.
func sdkNote(u sdk.Use) string {
	switch {
	case u.Supplied:
		return ", SDK " + u.Version + " from gadgetry"
	case u.Replace != "":
		return ", SDK from " + u.Replace
	}
	return ""
}

// goVersion returns the Go toolchain's version ("go1.26.8").
func goVersion(ctx context.Context, goBin string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "env", "GOVERSION")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s env GOVERSION: %w", goBin, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// checkWASM checks the WASM magic and version, so that a wrong file fails the build rather
// than the run.
func checkWASM(name string, data []byte) error {
	if !bytes.HasPrefix(data, []byte("\x00asm\x01\x00\x00\x00")) {
		return fmt.Errorf("WASM module %s: not a WebAssembly binary (version 1)", name)
	}
	return nil
}

// run runs a tool in dir with extra environment. Its stderr (warnings) goes to progress on
// success and into the returned error on failure, so "file:line:col: error:" lines reach the
// user.
func run(ctx context.Context, dir string, env []string, progress io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	err := cmd.Run()
	msg := strings.TrimRight(stderr.String(), "\n")
	if err != nil {
		if msg == "" {
			return fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		return fmt.Errorf("%s: %w:\n%s", filepath.Base(name), err, msg)
	}
	if msg != "" {
		fmt.Fprintln(progress, msg)
	}
	return nil
}
