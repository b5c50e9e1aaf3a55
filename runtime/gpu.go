package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/attach"
)

// Gadgets of NVIDIA GPUs (Inspektor Gadget's CUDA profilers, say) put their uprobes on the
// CUDA libraries. Where the machine has no GPU, those libraries are absent and the gadget can
// never report anything: rather than run with nothing attached but a clean-up tracepoint,
// the run fails with one sentence that says so.

// DefaultNVIDIAPaths are the paths whose existence shows an NVIDIA GPU and its driver: the
// control device and the driver's list of GPUs.
var DefaultNVIDIAPaths = []string{"/dev/nvidiactl", "/proc/driver/nvidia/gpus"}

// gpuLibraryPrefixes name the libraries of NVIDIA's GPU stack (the driver API, the runtime,
// the management library, compilers and math libraries).
var gpuLibraryPrefixes = []string{"libcuda", "libcudart", "libnvidia", "libnvrtc", "libnvml", "libcublas", "libcudnn", "libnccl", "libcufft", "libcurand", "libcusparse"}

// isGPULibrary reports whether lib (a path or a short name: libcuda) is one of NVIDIA's GPU
// libraries.
func isGPULibrary(lib string) bool {
	base := filepath.Base(lib)
	return slices.ContainsFunc(gpuLibraryPrefixes, func(p string) bool { return strings.HasPrefix(base, p) })
}

// nvidiaPaths returns the paths that show an NVIDIA GPU: Options.NVIDIAPaths, else the
// defaults.
func (rt *Runtime) nvidiaPaths() []string {
	if rt.opts.NVIDIAPaths != nil {
		return rt.opts.NVIDIAPaths
	}
	return DefaultNVIDIAPaths
}

// nvidiaGPU returns the first of the runtime's NVIDIA paths that exists, or "".
func (rt *Runtime) nvidiaGPU() string {
	for _, p := range rt.nvidiaPaths() {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// gpuMissingErr returns the run's error when the gadget's uprobes are all on NVIDIA GPU
// libraries, none of them is installed and the machine has no NVIDIA GPU; else nil.
func (r *Run) gpuMissingErr(missing []missingUprobe) error {
	if len(missing) == 0 {
		return nil
	}
	var libs []string
	for _, m := range missing {
		if !m.err.NoLibrary || !isGPULibrary(m.err.Library) {
			return nil
		}
		libs = append(libs, filepath.Base(m.err.Library))
	}
	// A uprobe attached somewhere: on the host, or in a container's copy of its library.
	for _, l := range r.links {
		if u, ok := l.(*attach.UprobeLink); ok && (u.HostErr() == nil || u.Files() > 0) {
			return nil
		}
	}
	if r.rt.nvidiaGPU() != "" {
		return nil
	}
	slices.Sort(libs)
	libs = slices.Compact(libs)
	which := "which is"
	if len(libs) > 1 {
		which = "which are"
	}
	return fmt.Errorf("gadget %s needs an NVIDIA GPU with CUDA: its uprobes are on %s, %s not installed here, and this machine has no NVIDIA GPU (none of %s exists): run it on a machine with one",
		r.g.Name, strings.Join(libs, " and "), which, strings.Join(r.rt.nvidiaPaths(), ", "))
}

// The GPU bridge (gpu-ebpf-bridge) is a daemon that reads NVIDIA's management library and
// writes what it reads into maps pinned by name (<gadget/gpu_bridge_maps.h>); gadgets read
// them. Without the daemon they stay empty, and so do the gadget's GPU figures.

// gpuBridgeMaps are the names of the bridge's maps.
var gpuBridgeMaps = []string{"gpu_meta", "gpu_device", "gpu_per_pid", "gpu_per_pid_per_device"}

// gpuBridgeMaxAge is how old the bridge's last update may be for the bridge to count as
// running (it updates every poll, about once a second).
const gpuBridgeMaxAge = 30 * time.Second

// warnGPUBridge warns, once, when the gadget reads the GPU bridge's maps and no bridge daemon
// is filling them: its state (gpu_meta) has no update in the last gpuBridgeMaxAge.
func (r *Run) warnGPUBridge() {
	var uses []string
	for _, name := range gpuBridgeMaps {
		if r.coll.Maps[name] != nil {
			uses = append(uses, name)
		}
	}
	if len(uses) == 0 || gpuBridgeRunning(r.coll.Maps["gpu_meta"]) {
		return
	}
	why := "no gpu-ebpf-bridge daemon fills them"
	if gpu := r.rt.nvidiaGPU(); gpu == "" {
		why += ", and this machine has no NVIDIA GPU"
	} else {
		why += " (the machine has an NVIDIA GPU, " + gpu + ": start the bridge daemon)"
	}
	r.rt.log.Warn(fmt.Sprintf("gadget %s: the GPU bridge's maps it reads (%s) stay empty: %s", r.g.Name, strings.Join(uses, ", "), why))
}

// gpuBridgeRunning reports whether the bridge's state map, m (the gadget's gpu_meta, else
// the one pinned under PinRoot), was updated in the last gpuBridgeMaxAge: struct gpu_meta's
// last_update_boottime_ns against CLOCK_BOOTTIME, as gpu_meta_fresh() checks it in the kernel.
func gpuBridgeRunning(m *ebpf.Map) bool {
	if m == nil {
		pinned, err := ebpf.LoadPinnedMap(filepath.Join(PinRoot, "gpu_meta"), &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			return false
		}
		defer pinned.Close()
		m = pinned
	}
	// struct gpu_meta: schema_version u32, n_devices u32, last_update_boottime_ns u64, ...
	if m.ValueSize() < 16 {
		return false
	}
	v := make([]byte, m.ValueSize())
	if err := m.Lookup(uint32(0), &v); err != nil {
		return false
	}
	last := binary.NativeEndian.Uint64(v[8:16])
	var now unix.Timespec
	if last == 0 || unix.ClockGettime(unix.CLOCK_BOOTTIME, &now) != nil {
		return false
	}
	return uint64(now.Nano())-last < uint64(gpuBridgeMaxAge)
}
