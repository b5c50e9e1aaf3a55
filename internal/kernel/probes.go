package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/attach"
)

// probeFunc is the kernel function kprobes and trampolines are attached to: present, not
// inlined and in BTF on every kernel Gadgetry supports.
const probeFunc = "vfs_read"

// returnZero is the body of every probe program that only has to load and attach.
var returnZero = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}

func load(spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	if spec.License == "" {
		spec.License = "GPL"
	}
	if spec.Instructions == nil {
		spec.Instructions = returnZero
	}
	prog, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return nil, fmt.Errorf("loading a %s program: %w%s", describe(spec), err, permHint(err))
	}
	return prog, nil
}

func describe(spec *ebpf.ProgramSpec) string {
	if spec.AttachTo != "" {
		return fmt.Sprintf("%s/%s", spec.Type, spec.AttachTo)
	}
	return spec.Type.String()
}

// permHint explains EPERM for a root process: the kernel itself refuses the program type.
func permHint(err error) string {
	if errors.Is(err, unix.EPERM) {
		return " (the kernel refuses it although we are root: the program type is disabled, locked down or unsupported here)"
	}
	return ""
}

func attachAndClose(l link.Link, err error, what string) error {
	if err != nil {
		return fmt.Errorf("attaching %s: %w%s", what, err, permHint(err))
	}
	return l.Close()
}

func probeBTF() error {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("reading the kernel's BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	return nil
}

func probeRingBuf() error {
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Errorf("creating a ring buffer map: %w", err)
	}
	return nil
}

func probeTracepoint() error {
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.TracePoint})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.Tracepoint("sched", "sched_process_exec", prog, nil)
	return attachAndClose(l, err, "a tracepoint program to sched/sched_process_exec (is tracefs mounted?)")
}

func probeRawTracepoint() error {
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.RawTracepoint})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: prog})
	return attachAndClose(l, err, "a raw_tracepoint program to sched_process_exec")
}

func probeTPBTF() error {
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_process_exec"})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	return attachAndClose(l, err, "a tp_btf program to sched_process_exec")
}

func probeKprobe(ret bool) error {
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.Kprobe})
	if err != nil {
		return err
	}
	defer prog.Close()
	what := "a kprobe"
	attach := link.Kprobe
	if ret {
		what, attach = "a kretprobe", link.Kretprobe
	}
	l, err := attach(probeFunc, prog, nil)
	if err != nil {
		if _, statErr := os.Stat("/sys/kernel/tracing/kprobe_events"); statErr != nil {
			if _, pmuErr := os.Stat("/sys/bus/event_source/devices/kprobe"); pmuErr != nil {
				err = fmt.Errorf("%w (the kernel has neither the kprobe PMU nor kprobe_events: built without CONFIG_KPROBES or CONFIG_KPROBE_EVENTS)", err)
			}
		}
	}
	return attachAndClose(l, err, what+" to "+probeFunc)
}

func probeTrampoline(at ebpf.AttachType) error {
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: at, AttachTo: probeFunc})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	return attachAndClose(l, err, "a trampoline program to "+probeFunc)
}

// probeMapElemIter loads an iter/bpf_map_elem program and attaches it to a one-element array.
func probeMapElemIter() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("creating an array map: %w", err)
	}
	defer m.Close()
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "bpf_map_elem"})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachIter(link.IterOptions{Program: prog, Map: m})
	return attachAndClose(l, err, "an iter/bpf_map_elem program to an array map")
}

// probeLSM needs the BPF LSM in the active list (runtime/attach decides that, for the runtime
// too) and an lsm/bprm_check_security program that loads and attaches.
func probeLSM() error {
	active := attach.BPFLSMActive()
	if _, listErr := attach.ActiveLSMs(); listErr == nil && active != nil {
		return active
	}
	prog, err := load(&ebpf.ProgramSpec{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: "bprm_check_security"})
	if err == nil {
		defer prog.Close()
		l, aerr := link.AttachLSM(link.LSMOptions{Program: prog})
		err = attachAndClose(l, aerr, "an lsm program to bprm_check_security")
	}
	if active != nil {
		// Without securityfs we cannot tell whether the BPF LSM is in the active list; an lsm
		// program that attaches is not proof that its verdicts are enforced.
		if err != nil {
			return fmt.Errorf("%w; %w", err, active)
		}
		return active
	}
	return err
}

// probeDPath loads a sleepable lsm.s/bprm_check_security program that calls
// bpf_d_path(&bprm->file->f_path, buf, 64), with the member offsets taken from the kernel's
// BTF; the verifier accepts the call only where the helper is allowed.
func probeDPath() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading the kernel's BTF: %w", err)
	}
	fileOff, err := memberOffset(spec, "linux_binprm", "file")
	if err != nil {
		return err
	}
	pathOff, err := memberOffset(spec, "file", "f_path")
	if err != nil {
		return err
	}
	const bufLen = 64
	insns := asm.Instructions{
		asm.LoadMem(asm.R1, asm.R1, 0, asm.DWord),              // r1 = ctx[0] = bprm
		asm.LoadMem(asm.R1, asm.R1, int16(fileOff), asm.DWord), // r1 = bprm->file
		asm.JEq.Imm(asm.R1, 0, "out"),                          // no file: nothing to resolve
		asm.Add.Imm(asm.R1, int32(pathOff)),                    // r1 = &file->f_path
		asm.Mov.Reg(asm.R2, asm.RFP),                           // r2 = stack buffer
		asm.Add.Imm(asm.R2, -bufLen),                           //
		asm.Mov.Imm(asm.R3, bufLen),                            // r3 = its size
		asm.FnDPath.Call(),                                     // bpf_d_path(r1, r2, r3)
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),               // allow the exec
		asm.Return(),                                           //
	}
	prog, err := load(&ebpf.ProgramSpec{
		Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: "bprm_check_security",
		Flags: unix.BPF_F_SLEEPABLE, Instructions: insns,
	})
	if err != nil {
		return fmt.Errorf("bpf_d_path from lsm.s/bprm_check_security: %w", err)
	}
	return prog.Close()
}

func memberOffset(spec *btf.Spec, typ, member string) (uint32, error) {
	var s *btf.Struct
	if err := spec.TypeByName(typ, &s); err != nil {
		return 0, fmt.Errorf("finding struct %s in the kernel's BTF: %w", typ, err)
	}
	for _, m := range s.Members {
		if m.Name == member {
			return m.Offset.Bytes(), nil
		}
	}
	return 0, fmt.Errorf("struct %s in the kernel's BTF has no member %s", typ, member)
}

// probeOverlayfs mounts a tmpfs in a temporary directory and an overlay made of directories
// inside it (an upper layer on tmpfs works wherever overlayfs does, unlike one on an overlay
// root filesystem), then unmounts both and removes the directory.
func probeOverlayfs() (err error) {
	dir, err := os.MkdirTemp("", "gadgetry-overlay-probe-")
	if err != nil {
		return fmt.Errorf("creating a directory for the overlay probe: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		return fmt.Errorf("mounting a tmpfs on %s for the overlay probe: %w", dir, err)
	}
	defer func() {
		if uerr := unix.Unmount(dir, unix.MNT_DETACH); uerr != nil && err == nil {
			err = fmt.Errorf("unmounting the overlay probe's tmpfs %s: %w", dir, uerr)
		}
	}()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("preparing the overlay probe: %w", err)
		}
	}
	merged := filepath.Join(dir, "merged")
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		hint := ""
		if fs, rerr := os.ReadFile("/proc/filesystems"); rerr == nil && !bytes.Contains(fs, []byte("\toverlay\n")) {
			hint = " (overlay is not in /proc/filesystems: load the overlay module)"
		}
		return fmt.Errorf("mounting an overlay on %s: %w%s", merged, err, hint)
	}
	if err := unix.Unmount(merged, 0); err != nil {
		return fmt.Errorf("unmounting the probe overlay %s: %w", merged, err)
	}
	return nil
}
