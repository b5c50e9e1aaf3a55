package build

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/gadgetry/gadgetry/oci/metadata"
)

// gplCompatible are the license strings the kernel takes as GPL-compatible
// (license_is_gpl_compatible in the kernel): only a program declaring one of them may call the
// helpers below, any kfunc, or be an LSM program.
var gplCompatible = []string{"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"}

// gplOnlyHelpers are helpers the kernel marks gpl_only (their bpf_func_proto), so the
// verifier refuses a call from a program without a GPL-compatible license ("cannot call
// GPL-restricted function from non-GPL compatible program"). The list is of those a tracing
// gadget meets, checked against the kernel's sources (kernel/trace/bpf_trace.c,
// kernel/bpf/helpers.c, kernel/bpf/stackmap.c); a helper missing here is only not caught at
// build time: the kernel still refuses it at load.
var gplOnlyHelpers = map[asm.BuiltinFunc]bool{
	asm.FnProbeRead:          true,
	asm.FnProbeReadStr:       true,
	asm.FnProbeReadUser:      true,
	asm.FnProbeReadUserStr:   true,
	asm.FnProbeReadKernel:    true,
	asm.FnProbeReadKernelStr: true,
	asm.FnProbeWriteUser:     true,
	asm.FnTracePrintk:        true,
	asm.FnTraceVprintk:       true,
	asm.FnSeqPrintf:          true,
	asm.FnSeqWrite:           true,
	asm.FnSeqPrintfBtf:       true,
	asm.FnPerfEventRead:      true,
	asm.FnPerfEventReadValue: true,
	asm.FnPerfEventOutput:    true,
	asm.FnGetCurrentTask:     true,
	asm.FnGetCurrentTaskBtf:  true,
	asm.FnTaskPtRegs:         true,
	asm.FnGetStackid:         true,
	asm.FnGetStack:           true,
	asm.FnOverrideReturn:     true,
	asm.FnGetBranchSnapshot:  true,
	asm.FnSnprintf:           true,
	asm.FnTimerInit:          true,
}

// LicenseError says that an eBPF object needs a GPL-compatible license it does not declare:
// every kernel would refuse to load it.
type LicenseError struct {
	// Source is the C file built.
	Source string
	// License is what the object declares ("" for no license section).
	License string
	// Needs lists what requires GPL: "helper bpf_probe_read_kernel (program p)", "kfunc …",
	// "LSM program p".
	Needs []string
}

func (e *LicenseError) Error() string {
	declared := fmt.Sprintf("declares the license %q", e.License)
	if e.License == "" {
		declared = "declares no license"
	}
	return fmt.Sprintf(`%s %s, which the kernel does not take as GPL-compatible, but uses what only GPL-compatible programs may: %s; the kernel would refuse to load it. Add to %s:
	char LICENSE[] SEC("license") = "GPL";
(or "Dual BSD/GPL", "Dual MIT/GPL"...), or stop using these`, e.Source, declared, strings.Join(e.Needs, ", "), e.Source)
}

// checkLicense fails when obj calls GPL-only helpers or kfuncs, or has LSM programs, without
// a GPL-compatible license. An object cilium/ebpf cannot read is left to the load to judge.
func checkLicense(obj []byte, source string) error {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil
	}
	license := ""
	needs := map[string]bool{}
	for _, p := range spec.Programs {
		license = p.License
		if slices.Contains(gplCompatible, p.License) {
			return nil
		}
		if p.Type == ebpf.LSM {
			needs[fmt.Sprintf("LSM program %s", p.Name)] = true
		}
		for _, ins := range p.Instructions {
			switch {
			case ins.IsBuiltinCall() && gplOnlyHelpers[asm.BuiltinFunc(ins.Constant)]:
				needs[fmt.Sprintf("helper bpf_%s (program %s)", helperName(asm.BuiltinFunc(ins.Constant)), p.Name)] = true
			case ins.IsKfuncCall():
				name := "a kfunc"
				if ref := ins.Reference(); ref != "" {
					name = "kfunc " + ref
				}
				needs[fmt.Sprintf("%s (program %s)", name, p.Name)] = true
			}
		}
	}
	if len(needs) == 0 {
		return nil
	}
	list := make([]string, 0, len(needs))
	for n := range needs {
		list = append(list, n)
	}
	sort.Strings(list)
	return &LicenseError{Source: source, License: license, Needs: list}
}

// helperName turns asm's FnProbeReadKernel into probe_read_kernel.
func helperName(fn asm.BuiltinFunc) string {
	name := strings.TrimPrefix(fn.String(), "Fn")
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// metadataFileError names file (build.yaml's metadata:) instead of gadget.yaml in a metadata
// parse error, when the two differ.
func metadataFileError(err error, file string) error {
	if file == "" || file == metadata.FileName {
		return err
	}
	return errors.New(strings.Replace(err.Error(), metadata.FileName, file, 1))
}

// installHint says how to get the tool what (clang, llvm-strip, go).
func installHint(what string) string {
	switch what {
	case "go":
		return "the WASM module in go/ is built with Go 1.24 or later: install it (https://go.dev/dl, or Debian's golang-go where recent enough), build it with TinyGo (--wasm-toolchain=tinygo), or give a prebuilt module (wasm: in build.yaml)"
	case "clang":
		return "install it (Debian: apt-get install clang-19 llvm-19)"
	case "llvm-strip":
		return "install it (Debian: apt-get install llvm-19)"
	}
	return "install it"
}
