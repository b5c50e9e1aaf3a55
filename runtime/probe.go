package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/attach"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// probeKey names one probed capability: a BTF-based program kind at one target.
type probeKey struct {
	typ    ebpf.ProgramType
	attach ebpf.AttachType
	target string
}

// probeLoad tells whether the kernel loads a program like ps (same type, attach type and
// target), by loading a two-instruction program of that shape. It is cached per Runtime, so a
// gadget with an optional fentry program on a kernel that refuses trampolines costs one tiny
// load instead of a failed load of the whole collection. Only BTF-based kinds (fentry, fexit,
// lsm, tp_btf), which the kernel may refuse at load time, are probed; nil means "loads". An lsm
// program must also find the BPF LSM active (attach.BPFLSMActive): elsewhere it would attach and
// never be called, which for a gadget that enforces with it is worse than not running.
func (rt *Runtime) probeLoad(kind attach.Kind, ps *ebpf.ProgramSpec) error {
	switch kind {
	case attach.FEntry, attach.FExit, attach.LSM, attach.TPBTF:
	default:
		return nil
	}
	key := probeKey{ps.Type, ps.AttachType, ps.AttachTo}
	rt.mu.Lock()
	err, ok := rt.probes[key]
	rt.mu.Unlock()
	if ok {
		return err
	}
	// Through a collection, so the probe shares the Runtime's kernel BTF cache.
	c, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"gadgetry_probe": {
		Name:       "gadgetry_probe",
		Type:       ps.Type,
		AttachType: ps.AttachType,
		AttachTo:   ps.AttachTo,
		Flags:      ps.Flags,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.LoadImm(asm.R0, 0, asm.DWord),
			asm.Return(),
		},
	}}}, ebpf.CollectionOptions{Cache: rt.kernelBTF()})
	if err == nil {
		c.Close()
		if kind == attach.LSM {
			err = attach.BPFLSMActive()
		}
	} else if !attach.LacksKernelSupport(err) {
		err = nil // something else (e.g. an unknown target): let the real load report it
	}
	rt.mu.Lock()
	rt.probes[key] = err
	rt.mu.Unlock()
	return err
}

// Capabilities that loading and attaching eBPF programs needs.
const (
	capDACOverride = unix.CAP_DAC_OVERRIDE
	capSysAdmin    = unix.CAP_SYS_ADMIN
	capPerfmon     = unix.CAP_PERFMON
	capBPF         = unix.CAP_BPF
)

// tracefsDir is where the kernel's tracefs is mounted; tracepoints, and kprobes and uprobes
// where the kernel has no kprobe or uprobe PMU, attach through it.
const tracefsDir = "/sys/kernel/tracing"

// ErrPrivileges is wrapped by the errors of CheckPrivileges and Gadget.CheckPrivileges.
var ErrPrivileges = errors.New("missing privileges")

// privilegeError says what loading eBPF needs and what this process has, in one sentence.
type privilegeError struct {
	// tracefs names the programs that attach through tracefs, when that is what is missing.
	tracefs []string
}

func (e *privilegeError) Error() string {
	who := fmt.Sprintf("uid %d", os.Geteuid())
	if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil {
		who = fmt.Sprintf("user %s (uid %d)", u.Username, os.Geteuid())
	}
	if e.tracefs != nil {
		return fmt.Sprintf("loading eBPF needs root or CAP_BPF+CAP_PERFMON (+CAP_DAC_OVERRIDE for %s, which attach through tracefs at %s); gadgetry runs as %s with CAP_BPF+CAP_PERFMON but cannot open %s: run it as root (sudo) or add CAP_DAC_OVERRIDE",
			strings.Join(e.tracefs, ", "), tracefsDir, who, tracefsDir)
	}
	return fmt.Sprintf("loading eBPF needs root or CAP_BPF+CAP_PERFMON (+CAP_DAC_OVERRIDE for tracepoints and kprobes, which attach through tracefs); gadgetry runs as %s without them: run it as root (sudo)", who)
}

func (e *privilegeError) Unwrap() error { return ErrPrivileges }

// effectiveCaps returns this thread's effective capability set as a bit mask.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// mayLoadBPF reports whether caps allow creating maps and loading tracing programs:
// CAP_SYS_ADMIN (which kernels before 5.8 require), or CAP_BPF with CAP_PERFMON.
func mayLoadBPF(caps uint64) bool {
	has := func(c int) bool { return caps&(1<<uint(c)) != 0 }
	return has(capSysAdmin) || (has(capBPF) && has(capPerfmon))
}

// CheckPrivileges returns an error wrapping ErrPrivileges, saying in one sentence what is
// needed, when this process cannot load eBPF at all (it has neither CAP_SYS_ADMIN nor
// CAP_BPF and CAP_PERFMON). Without it every load fails with EPERM, which reads like a
// kernel that lacks a feature (tp_btf) or like a memory limit (MEMLOCK); a command should call
// it before it does anything else on behalf of a run.
func CheckPrivileges() error {
	caps, err := effectiveCaps()
	if err != nil {
		return nil // cannot tell: let the load say what happens
	}
	if !mayLoadBPF(caps) {
		return &privilegeError{}
	}
	return nil
}

// CheckPrivileges is the package's CheckPrivileges for a run of this gadget with params (the
// parameters set, by key): besides loading, its programs that attach through tracefs
// (tracepoints; kprobes and uprobes where the kernel has no kprobe or uprobe PMU), optional
// ones included, need to open tracefs, which is root's alone (mode 0700) unless
// CAP_DAC_OVERRIDE. A program that params leave disabled (enabled_if) does not count.
func (g *Gadget) CheckPrivileges(params map[string]string) error {
	if err := CheckPrivileges(); err != nil {
		return err
	}
	if unix.Faccessat(unix.AT_FDCWD, tracefsDir, unix.R_OK|unix.X_OK, unix.AT_EACCESS) == nil {
		return nil
	}
	if _, err := os.Stat(tracefsDir); err != nil {
		return nil // no tracefs there: nothing to say about permissions
	}
	var progs []string
	for _, p := range g.Programs {
		if !p.Disabled && usesTracefs(p.Kind) && g.enabledBy(p, params) {
			progs = append(progs, fmt.Sprintf("%s (%s)", p.Name, p.Kind))
		}
	}
	if len(progs) == 0 {
		return nil
	}
	return &privilegeError{tracefs: progs}
}

// usesTracefs reports whether programs of kind attach through tracefs on this machine.
func usesTracefs(kind attach.Kind) bool {
	pmu := func(name string) bool {
		_, err := os.Stat(filepath.Join("/sys/bus/event_source/devices", name))
		return err == nil
	}
	switch kind {
	case attach.Tracepoint:
		return true
	case attach.Kprobe, attach.Kretprobe:
		return !pmu("kprobe")
	case attach.Uprobe, attach.Uretprobe:
		return !pmu("uprobe")
	}
	return false
}

// enabledBy reports whether p's enabled_if condition holds for params (a parameter not set
// has its default); a program without one is enabled.
func (g *Gadget) enabledBy(p *Program, params map[string]string) bool {
	c := p.EnabledIf
	if c == nil {
		return true
	}
	v, ok := params[c.Param]
	param := g.Param(c.Param)
	if !ok && param != nil {
		v = param.Default
	}
	if param != nil && param.Kind == datasource.KindBool {
		got, err1 := strconv.ParseBool(v)
		want, err2 := strconv.ParseBool(c.Value)
		if err1 == nil && err2 == nil {
			return (got == want) != c.Negate
		}
	}
	return c.Holds(v)
}
