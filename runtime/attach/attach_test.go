package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for sec, want := range map[string]struct {
		kind   Kind
		target string
	}{
		"tracepoint/sched/sched_process_exec": {Tracepoint, "sched/sched_process_exec"},
		"tp/syscalls/sys_enter_openat":        {Tracepoint, "syscalls/sys_enter_openat"},
		"raw_tracepoint/sched_switch":         {RawTracepoint, "sched_switch"},
		"raw_tp/sched_switch":                 {RawTracepoint, "sched_switch"},
		"tp_btf/sched_switch":                 {TPBTF, "sched_switch"},
		"fentry/do_unlinkat":                  {FEntry, "do_unlinkat"},
		"fentry.s/do_unlinkat":                {FEntry, "do_unlinkat"},
		"fexit/do_unlinkat":                   {FExit, "do_unlinkat"},
		"lsm/bprm_check_security":             {LSM, "bprm_check_security"},
		"lsm.s/bprm_check_security":           {LSM, "bprm_check_security"},
		"kprobe/do_sys_openat2":               {Kprobe, "do_sys_openat2"},
		"kretprobe/do_sys_openat2":            {Kretprobe, "do_sys_openat2"},
		"uprobe//usr/lib/libc.so.6:malloc":    {Uprobe, "/usr/lib/libc.so.6:malloc"},
		"uretprobe//bin/bash:readline":        {Uretprobe, "/bin/bash:readline"},
		"iter/task":                           {Iter, "task"},
		"socket1":                             {SocketFilter, "1"},
		"socket":                              {SocketFilter, ""},
		"classifier/ingress/main":             {Classifier, "ingress/main"},
		"uprobe/libc:pthread_mutex_lock":      {Uprobe, "libc:pthread_mutex_lock"},
		"perf_event/profiler":                 {PerfEventKind, "profiler"},
	} {
		k, tgt, err := Parse(sec)
		if err != nil || k != want.kind || tgt != want.target {
			t.Errorf("Parse(%q) = %s, %q, %v; want %s, %q", sec, k, tgt, err, want.kind, want.target)
		}
	}
	if _, _, err := Parse("xdp/foo"); !errors.Is(err, ErrUnknownSection) {
		t.Errorf("unknown section: %v", err)
	}
	if !FEntry.NeedsTargetAtLoad() || Tracepoint.NeedsTargetAtLoad() {
		t.Error("NeedsTargetAtLoad")
	}
}

// TestResolveLibrary: a short library name is the library's ELF file on the library path (not
// a linker script of the same name), under any root; a path is kept; a missing one is a
// sentence naming where it looked.
func TestResolveLibrary(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"libfoo.so":      "/* GNU ld script */ GROUP ( libfoo.so.1 )",
		"libfoo.so.1":    "\x7fELF...",
		"libfoo.so.1.2":  "\x7fELF...",
		"libfoobar.so.1": "\x7fELF...",
		"libbar.so.3.0":  "\x7fELF...",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved := LibraryDirs
	defer func() { LibraryDirs = saved }()
	LibraryDirs = map[string][]string{goruntime.GOARCH: {"/usr/lib/x86_64-linux-gnu"}}
	for name, want := range map[string]string{
		"libfoo":        filepath.Join(dir, "libfoo.so.1"),
		"libbar":        filepath.Join(dir, "libbar.so.3.0"),
		"/opt/x/lib.so": filepath.Join(root, "/opt/x/lib.so"),
	} {
		got, err := ResolveLibrary(root, name)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := ResolveLibrary(root, "libcuda"); err == nil || !strings.Contains(err.Error(), `library "libcuda" not found`) {
		t.Errorf("missing library: %v", err)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]string{"0": "[0]", "0-3": "[0 1 2 3]", "0-1,4,6-7": "[0 1 4 6 7]"} {
		got, err := parseCPUList(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("parseCPUList(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "1-b"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q): no error", bad)
		}
	}
}

// TestPerfEventAttr: Inspektor Gadget's perf keys give a frequency-sampled CPU clock; what
// is missing or unknown is an error naming the key.
func TestPerfEventAttr(t *testing.T) {
	a, err := (&PerfEvent{Type: "software", Config: "count_sw_cpu_clock", SampleType: "sample_raw", Frequency: 49}).attr()
	if err != nil || a.Config != unix.PERF_COUNT_SW_CPU_CLOCK || a.Sample != 49 || a.Bits&unix.PerfBitFreq == 0 || a.Sample_type != unix.PERF_SAMPLE_RAW {
		t.Errorf("attr %+v, %v", a, err)
	}
	for pe, want := range map[*PerfEvent]string{
		nil: "programs.<name>.perf",
		{Type: "software", Config: "count_sw_cpu_clock"}:                                        "sampler.frequency",
		{Type: "tracepoint", Config: "x", Frequency: 1}:                                         `perf type "tracepoint"`,
		{Type: "software", Config: "count_sw_page_faults", Frequency: 1}:                        `perf config "count_sw_page_faults"`,
		{Type: "software", Config: "count_sw_cpu_clock", SampleType: "sample_ip", Frequency: 1}: `sampleType "sample_ip"`,
	} {
		if _, err := pe.attr(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error with %q", pe, err, want)
		}
	}
}
