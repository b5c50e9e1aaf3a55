// Package attach attaches a loaded eBPF program where its ELF section says: tracepoint,
// raw_tracepoint, tp_btf, fentry, fexit, lsm (and sleepable .s forms), kprobe, kretprobe,
// uprobe, uretprobe (to a path or a short library name), iter, socket (socket filters) and
// classifier/<ingress|egress>/<name> (tc), and perf_event/<name> (a sampled perf event on every
// CPU).
package attach

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Kind is an attach kind, named like the section prefix ("tracepoint", "fentry", ...).
type Kind string

// Attach kinds.
const (
	Tracepoint    Kind = "tracepoint"
	RawTracepoint Kind = "raw_tracepoint"
	TPBTF         Kind = "tp_btf"
	FEntry        Kind = "fentry"
	FExit         Kind = "fexit"
	LSM           Kind = "lsm"
	Kprobe        Kind = "kprobe"
	Kretprobe     Kind = "kretprobe"
	Uprobe        Kind = "uprobe"
	Uretprobe     Kind = "uretprobe"
	Iter          Kind = "iter"
)

var prefixes = []struct {
	prefix string
	kind   Kind
}{
	{"tracepoint/", Tracepoint}, {"tp/", Tracepoint},
	{"raw_tracepoint/", RawTracepoint}, {"raw_tp/", RawTracepoint},
	{"tp_btf/", TPBTF},
	{"fentry.s/", FEntry}, {"fentry/", FEntry},
	{"fexit.s/", FExit}, {"fexit/", FExit},
	{"lsm.s/", LSM}, {"lsm/", LSM},
	{"kprobe/", Kprobe}, {"kretprobe/", Kretprobe},
	{"uprobe.s/", Uprobe}, {"uprobe/", Uprobe},
	{"uretprobe.s/", Uretprobe}, {"uretprobe/", Uretprobe},
	{"iter.s/", Iter}, {"iter/", Iter},
	{"socket", SocketFilter},
	{"classifier/", Classifier},
	{"perf_event/", PerfEventKind}, {"perf_event", PerfEventKind},
}

// ErrUnknownSection is returned for a section no attach kind matches.
var ErrUnknownSection = errors.New("unknown section")

// ErrKernelLacks wraps errors that mean the running kernel lacks the attach kind.
var ErrKernelLacks = errors.New("the kernel lacks this attach type")

// Parse splits an ELF section name into its attach kind and target
// ("tracepoint/sched/sched_process_exec" → Tracepoint, "sched/sched_process_exec").
func Parse(section string) (Kind, string, error) {
	for _, p := range prefixes {
		if strings.HasPrefix(section, p.prefix) {
			return p.kind, strings.TrimPrefix(section, p.prefix), nil
		}
	}
	var known []string
	for _, p := range prefixes {
		known = append(known, p.prefix+"…")
	}
	return "", "", fmt.Errorf("%w %q (known: %s)", ErrUnknownSection, section, strings.Join(known, ", "))
}

// NeedsTargetAtLoad reports whether the kind's target must be in ProgramSpec.AttachTo before
// the program is loaded (BTF-based kinds resolve the target at load time).
func (k Kind) NeedsTargetAtLoad() bool {
	switch k {
	case TPBTF, FEntry, FExit, LSM, Iter:
		return true
	}
	return false
}

// Feature names the kernel feature the kind needs, for error messages.
func (k Kind) Feature() string {
	switch k {
	case FEntry, FExit:
		return "BPF trampolines (fentry/fexit)"
	case LSM:
		return "BPF LSM (lsm= boot option with bpf)"
	case Kprobe, Kretprobe:
		return "kprobes (CONFIG_KPROBE_EVENTS)"
	case Uprobe, Uretprobe:
		return "uprobes (CONFIG_UPROBE_EVENTS)"
	case TPBTF:
		return "BTF-enabled raw tracepoints (tp_btf)"
	case Iter:
		return "BPF iterators"
	case SocketFilter:
		return "socket filters"
	case Classifier:
		return "tc classifiers on tcx (Linux 6.6)"
	case PerfEventKind:
		return "perf events"
	}
	return string(k) + " programs"
}

// FeatureOf is Feature for a program of kind k attached to target: an iterator names its
// target, since a kernel may load some iterators and refuse others (this one loads iter/task
// and refuses iter/bpf_map_elem with EPERM before the verifier runs).
func (k Kind) FeatureOf(target string) string {
	if k == Iter && target != "" {
		return "BPF iterators over " + target + " (iter/" + target + ")"
	}
	return k.Feature()
}

// LacksKernelSupport reports whether err from loading or attaching means the kernel lacks the
// feature, rather than a bug in the gadget.
func LacksKernelSupport(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.Errno(524)) || errors.Is(err, ErrKernelLacks)
}

// Options tune Attach.
type Options struct {
	// Roots are the root directories of containers (/proc/<pid>/root) whose own copies of a
	// uprobe's library get the uprobe too; the host's always does.
	Roots []string
	// FollowRoots: the caller adds roots later (UprobeLink.AddRoot, as containers start), so
	// a uprobe whose library or symbol the host lacks is no error: its link starts with the
	// roots that have it, perhaps none (UprobeLink.HostErr says why the host has none).
	FollowRoots bool
	// Perf is the event a perf_event program samples (gadget.yaml programs.<p>.perf and
	// .sampler); a perf_event program without one is an error.
	Perf *PerfEvent
	// IterMap is the map an iter/bpf_map_elem program walks (it must be given one).
	IterMap *ebpf.Map
	// Netns, when not 0, is written to skb->cb[0] before a socket filter or tc classifier
	// runs (a dispatcher tail-calls the program, dispatch.go): the network namespace's
	// inode, as Inspektor Gadget's packet programs expect.
	Netns uint32
}

// Attach attaches prog of kind to target. Close the returned link to detach.
func Attach(kind Kind, target string, prog *ebpf.Program) (link.Link, error) {
	return AttachWith(kind, target, prog, Options{})
}

// AttachWith is Attach with options.
func AttachWith(kind Kind, target string, prog *ebpf.Program, opts Options) (link.Link, error) {
	var (
		l   link.Link
		err error
	)
	switch kind {
	case Tracepoint:
		grp, name, ok := strings.Cut(target, "/")
		if !ok {
			return nil, fmt.Errorf("tracepoint target %q: want <group>/<name>", target)
		}
		l, err = link.Tracepoint(grp, name, prog, nil)
	case RawTracepoint:
		l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
	case TPBTF, FEntry, FExit:
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	case LSM:
		l, err = link.AttachLSM(link.LSMOptions{Program: prog})
	case Kprobe, Kretprobe:
		if kind == Kprobe {
			l, err = link.Kprobe(target, prog, nil)
		} else {
			l, err = link.Kretprobe(target, prog, nil)
		}
		if err != nil && (errors.Is(err, unix.ENOENT) || errors.Is(err, ebpf.ErrNotSupported)) && !kprobesAvailable() {
			err = lacks{err}
		} else if errors.Is(err, unix.ENOENT) {
			// Kprobes work, the function does not exist (cilium/ebpf's message only says a
			// "token" was not found).
			err = fmt.Errorf("the kernel has no function %s to probe (it is not in /proc/kallsyms: another kernel version, or a module that is not loaded): %w", target, err)
		}
	case Uprobe, Uretprobe:
		path, sym, ok := strings.Cut(target, ":")
		if !ok || path == "" || sym == "" {
			return nil, fmt.Errorf("uprobe target %q: want <path>:<symbol>", target)
		}
		var u *UprobeLink
		if u, err = attachUprobe(kind, path, sym, prog, opts.Roots, opts.FollowRoots); err == nil {
			l = u // an *UprobeLink: AddRoot attaches it in a container that starts later
		}
	case SocketFilter, Classifier:
		run, fallback := prog, int32(0)
		if kind == Classifier {
			fallback = -1 // TC_ACT_UNSPEC
		}
		var d *dispatcher
		if opts.Netns != 0 {
			// Without a dispatcher (a program that cannot be tail-called) cb[0] stays 0.
			if d, err = newDispatcher(prog, opts.Netns, fallback); err == nil {
				run = d.prog
			}
		}
		var ml *multiLink
		if kind == SocketFilter {
			ml, err = attachSocketFilter(run)
		} else {
			dir, _, _ := strings.Cut(target, "/")
			ml, err = attachClassifier(dir, run)
		}
		if d != nil {
			if err != nil {
				d.Close()
			} else {
				ml.closers = append(ml.closers, d.Close)
			}
		}
		if err == nil {
			l = ml
		}
	case Iter:
		if target == "bpf_map_elem" && opts.IterMap == nil {
			return nil, fmt.Errorf("an iter/bpf_map_elem program walks a map's elements: name the map (Options.IterMap)")
		}
		l, err = link.AttachIter(link.IterOptions{Program: prog, Map: opts.IterMap})
	case PerfEventKind:
		var ml *multiLink
		if ml, err = attachPerfEvent(opts.Perf, prog); err == nil {
			l = ml
		}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownSection, kind)
	}
	return l, err
}

// lacks marks err as "the kernel lacks this" while keeping its cause.
type lacks struct{ err error }

func (l lacks) Error() string        { return l.err.Error() }
func (l lacks) Unwrap() error        { return l.err }
func (l lacks) Is(target error) bool { return target == ErrKernelLacks }

// kprobesAvailable checks for the kprobe PMU or tracefs kprobe_events.
func kprobesAvailable() bool {
	for _, p := range []string{"/sys/bus/event_source/devices/kprobe", "/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events"} {
		if err := unix.Access(p, unix.F_OK); err == nil {
			return true
		}
	}
	return false
}
