package kernel

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// TestFeatures probes every feature and logs the kernel's capability table, so the CI log
// shows what each kernel (host and VM) has and why not.
func TestFeatures(t *testing.T) {
	for _, f := range All() {
		err := Have(f)
		if err == nil {
			t.Logf("kernel %s: %-14s yes", Release(), f)
			continue
		}
		t.Logf("kernel %s: %-14s no: %v", Release(), f, err)
		if !errors.Is(err, ebpf.ErrNotSupported) && !errors.Is(err, ErrNeedsRoot) {
			t.Errorf("%s: error does not wrap ebpf.ErrNotSupported: %v", f, err)
		}
	}
}

// stopRecorder is a testing.TB that records whether Require skipped or failed.
type stopRecorder struct {
	testing.TB
	how, msg string
}

func (r *stopRecorder) Helper() {}
func (r *stopRecorder) Fatalf(format string, args ...any) {
	r.how, r.msg = "fail", fmt.Sprintf(format, args...)
}
func (r *stopRecorder) Skipf(format string, args ...any) {
	r.how, r.msg = "skip", fmt.Sprintf(format, args...)
}

// TestRequireDecides checks when a missing feature skips and when it fails.
func TestRequireDecides(t *testing.T) {
	missing := fmt.Errorf("kprobe: %w: no kprobe_events", ebpf.ErrNotSupported)
	noRoot := fmt.Errorf("probing kernel feature kprobe: %w", ErrNeedsRoot)
	for _, c := range []struct {
		name                 string
		vm, expect, ci       string // "" leaves the variable unset
		err                  error
		want, wantMsgContent string
	}{
		{name: "host skips", err: missing, want: "skip", wantMsgContent: "lacks kprobe"},
		{name: "vm fails", vm: "1", err: missing, want: "fail", wantMsgContent: "the vmtest VM expects it"},
		{name: "vm with a list not naming it skips", vm: "1", expect: "fentry,lsm", err: missing, want: "skip"},
		{name: "listed fails", expect: "fentry, kprobe", err: missing, want: "fail", wantMsgContent: "GADGETRY_EXPECT_FEATURES"},
		{name: "all fails", expect: "all", err: missing, want: "fail"},
		{name: "not root skips", err: noRoot, want: "skip"},
		{name: "not root in CI fails", ci: "true", err: noRoot, want: "fail", wantMsgContent: "as root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			setenv(t, "GADGETRY_VMTEST", c.vm)
			setenv(t, "GADGETRY_EXPECT_FEATURES", c.expect)
			setenv(t, "CI", c.ci)
			r := &stopRecorder{TB: t}
			require(r, Kprobe, c.err)
			if r.how != c.want || !strings.Contains(r.msg, c.wantMsgContent) {
				t.Errorf("got %s %q, want %s containing %q", r.how, r.msg, c.want, c.wantMsgContent)
			}
		})
	}
}

func setenv(t *testing.T, key, value string) {
	t.Setenv(key, value) // restores the old value after the test
	if value == "" {
		os.Unsetenv(key)
	}
}

// TestProbesMatchKernelInterfaces cross-checks probe answers with evidence independent of
// them: the kernel interfaces a feature cannot exist without.
func TestProbesMatchKernelInterfaces(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("probes need root, and CI runs the tests as root")
		}
		t.Skip("probes need root")
	}
	_, evErr := os.Stat("/sys/kernel/tracing/kprobe_events")
	_, pmuErr := os.Stat("/sys/bus/event_source/devices/kprobe/type")
	if evErr != nil && pmuErr != nil {
		for _, f := range []Feature{Kprobe, Kretprobe} {
			if err := Have(f); !errors.Is(err, ebpf.ErrNotSupported) {
				t.Errorf("%s: no kprobe_events and no kprobe PMU, yet Have says %v", f, err)
			}
		}
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		for _, f := range []Feature{BTF, Fentry, Fexit, Tracing, TPBTF, LSM, BPFDPath} {
			if err := Have(f); !errors.Is(err, ebpf.ErrNotSupported) {
				t.Errorf("%s: no kernel BTF, yet Have says %v", f, err)
			}
		}
	}
	if b, err := os.ReadFile("/sys/kernel/security/lsm"); err == nil && !strings.Contains(","+string(b), ",bpf") {
		if err := Have(LSM); !errors.Is(err, ebpf.ErrNotSupported) {
			t.Errorf("lsm: %q does not list bpf, yet Have says %v", b, err)
		}
	}
	// Derived features agree with their parts.
	if (Have(Tracing) == nil) != (Have(Fentry) == nil && Have(Fexit) == nil) {
		t.Errorf("tracing = %v, but fentry = %v and fexit = %v", Have(Tracing), Have(Fentry), Have(Fexit))
	}
	if Have(BPFDPath) == nil && Have(LSM) != nil {
		t.Errorf("bpf_d_path is available but the BPF LSM is not: %v", Have(LSM))
	}
}

// TestGadgetryBaseline: what every kernel Gadgetry runs on must have (the host included).
func TestGadgetryBaseline(t *testing.T) {
	Require(t, BTF, RingBuf, Tracepoint, RawTracepoint)
}

func TestParseFeature(t *testing.T) {
	for _, f := range All() {
		if g, err := ParseFeature(string(f)); err != nil || g != f {
			t.Errorf("ParseFeature(%q) = %q, %v", f, g, err)
		}
	}
	if _, err := ParseFeature("kprobes"); err == nil || !strings.Contains(err.Error(), "known: btf") {
		t.Errorf("ParseFeature(kprobes) = %v, want an error listing the known names", err)
	}
}
