// Package kernel is the one place that decides what the running kernel can do for Gadgetry.
//
// Each Feature is probed by really loading (and, where attaching is the part that can fail,
// attaching) a tiny eBPF program or by really mounting a filesystem, never by comparing version
// numbers: distribution kernels backport features and turn others off. Results are cached for
// the life of the process.
//
// Tests declare what they need with Require; the same test source then runs on the host, where
// a missing feature skips the test with the reason, and inside the qemu kernels of `make vmtest`,
// where every feature is expected and a missing one fails the test.
package kernel

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Feature is a kernel capability Gadgetry or its tests depend on. Its value is the short name
// used in GADGETRY_EXPECT_FEATURES and in messages.
type Feature string

// The features this package can probe.
const (
	// BTF: the kernel exposes its own type information (/sys/kernel/btf/vmlinux); CO-RE and
	// every BTF-typed program type need it.
	BTF Feature = "btf"
	// RingBuf: BPF_MAP_TYPE_RINGBUF maps can be created.
	RingBuf Feature = "ringbuf"
	// Tracepoint: a tracepoint program attaches to sched/sched_process_exec.
	Tracepoint Feature = "tracepoint"
	// RawTracepoint: a raw_tracepoint program attaches to sched_process_exec.
	RawTracepoint Feature = "raw_tracepoint"
	// TPBTF: a BTF-typed raw tracepoint (tp_btf) program attaches to sched_process_exec.
	TPBTF Feature = "tp_btf"
	// Kprobe: a kprobe program attaches to a kernel function (vfs_read).
	Kprobe Feature = "kprobe"
	// Kretprobe: a kretprobe program attaches to a kernel function (vfs_read).
	Kretprobe Feature = "kretprobe"
	// Fentry: an fentry program (BPF trampoline) loads and attaches to vfs_read.
	Fentry Feature = "fentry"
	// Fexit: an fexit program (BPF trampoline) loads and attaches to vfs_read.
	Fexit Feature = "fexit"
	// Tracing: BPF trampolines as a whole, that is both Fentry and Fexit.
	Tracing Feature = "tracing"
	// LSM: the BPF LSM is active (securityfs lists "bpf" in /sys/kernel/security/lsm) and an
	// lsm/bprm_check_security program loads and attaches.
	LSM Feature = "lsm"
	// BPFDPath: a sleepable lsm.s/bprm_check_security program may call bpf_d_path.
	BPFDPath Feature = "bpf_d_path"
	// Overlayfs: an overlay filesystem can be mounted.
	Overlayfs Feature = "overlayfs"
	// MapElemIter: an iter/bpf_map_elem program (a BPF iterator over a map's elements) loads
	// and attaches to an array map. Some kernels load other iterators and refuse this one.
	MapElemIter Feature = "map_elem_iter"
)

// All returns every feature this package probes, in a stable order.
func All() []Feature {
	return []Feature{BTF, RingBuf, Tracepoint, RawTracepoint, TPBTF, Kprobe, Kretprobe,
		Fentry, Fexit, Tracing, LSM, BPFDPath, Overlayfs, MapElemIter}
}

// ParseFeature returns the feature whose name is s.
func ParseFeature(s string) (Feature, error) {
	f := Feature(strings.TrimSpace(s))
	if !slices.Contains(All(), f) {
		names := make([]string, 0, len(All()))
		for _, a := range All() {
			names = append(names, string(a))
		}
		return "", fmt.Errorf("unknown kernel feature %q (known: %s)", s, strings.Join(names, ", "))
	}
	return f, nil
}

// ErrNeedsRoot is wrapped by Have's error when a probe could not run because the process lacks
// the privileges to load eBPF programs or mount filesystems: the kernel may well have the
// feature.
var ErrNeedsRoot = errors.New("needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)")

type result struct {
	once sync.Once
	err  error
}

var (
	cacheMu sync.Mutex
	cache   = map[Feature]*result{}
)

// Have reports whether the running kernel has f: nil when it does; otherwise an error that
// wraps ebpf.ErrNotSupported and says why (the kernel refused the probe program, a file is
// missing, ...), or wraps ErrNeedsRoot when the process is not privileged enough to tell.
// Probes run once per process; later calls return the cached answer.
func Have(f Feature) error {
	cacheMu.Lock()
	r, ok := cache[f]
	if !ok {
		r = &result{}
		cache[f] = r
	}
	cacheMu.Unlock()
	r.once.Do(func() { r.err = probe(f) })
	return r.err
}

func probe(f Feature) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("probing kernel feature %s: %w", f, ErrNeedsRoot)
	}
	var err error
	switch f {
	case BTF:
		err = probeBTF()
	case RingBuf:
		err = probeRingBuf()
	case Tracepoint:
		err = probeTracepoint()
	case RawTracepoint:
		err = probeRawTracepoint()
	case TPBTF:
		err = probeTPBTF()
	case Kprobe:
		err = probeKprobe(false)
	case Kretprobe:
		err = probeKprobe(true)
	case Fentry:
		err = probeTrampoline(ebpf.AttachTraceFEntry)
	case Fexit:
		err = probeTrampoline(ebpf.AttachTraceFExit)
	case Tracing:
		if err = Have(Fentry); err == nil {
			err = Have(Fexit)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		return nil
	case LSM:
		err = probeLSM()
	case BPFDPath:
		if err = Have(LSM); err != nil {
			return fmt.Errorf("%s: needs the BPF LSM: %w", f, err)
		}
		err = probeDPath()
	case Overlayfs:
		err = probeOverlayfs()
	case MapElemIter:
		err = probeMapElemIter()
	default:
		return fmt.Errorf("probing kernel feature %q: unknown feature", string(f))
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("%s: %w", f, err)
	}
	return fmt.Errorf("%s: %w: %w", f, ebpf.ErrNotSupported, err)
}

// Release returns the running kernel's release string (uname -r), or "unknown".
func Release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// InVM reports whether this process runs inside the qemu kernels of `make vmtest` (its init
// sets GADGETRY_VMTEST=1).
func InVM() bool { return os.Getenv("GADGETRY_VMTEST") == "1" }

// Expected reports whether f must be present in this environment, so that its absence is a
// failure rather than a reason to skip. GADGETRY_EXPECT_FEATURES lists the expected features,
// comma- or space-separated, or says "all"; inside the vmtest VM it defaults to "all".
func Expected(f Feature) bool {
	list, set := os.LookupEnv("GADGETRY_EXPECT_FEATURES")
	if !set {
		return InVM()
	}
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if s == "all" || Feature(s) == f {
			return true
		}
	}
	return false
}
