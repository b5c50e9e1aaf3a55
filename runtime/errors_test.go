package runtime_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

func prepareErr(t *testing.T, name string, obj []byte, yaml string) error {
	t.Helper()
	_, err := runtime.New(runtime.Options{}).Prepare(context.Background(), gadgettest.Image(name, obj, yaml))
	return err
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Run("no BTF", func(t *testing.T) {
		obj := gadgettest.Compile(t, "exec")
		objcopy := gadgettest.RequireTool(t, "llvm-objcopy-19")
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.o"), filepath.Join(dir, "out.o")
		os.WriteFile(in, obj, 0o644)
		if b, err := exec.Command(objcopy, "--remove-section=.BTF", "--remove-section=.BTF.ext", in, out).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		nobtf, _ := os.ReadFile(out)
		wantErr(t, prepareErr(t, "nobtf", nobtf, ""), "gadget nobtf", "BTF", "clang -g")
	})
	t.Run("unknown section", func(t *testing.T) {
		wantErr(t, prepareErr(t, "odd", gadgettest.Compile(t, "unknown_section"), ""),
			"gadget odd", "program gtest_odd", `"nosuchattach/foo"`)
	})
	t.Run("tracer names a missing map", func(t *testing.T) {
		wantErr(t, prepareErr(t, "ghost", gadgettest.Compile(t, "missing_map"), ""),
			"gadget ghost", "tracer ghost", `map "nomap"`, "GADGET_TRACER_MAP")
	})
	t.Run("tracer names a missing struct", func(t *testing.T) {
		wantErr(t, prepareErr(t, "ghost", gadgettest.Compile(t, "missing_struct"), ""),
			"gadget ghost", "tracer ghost", `struct "nostruct"`)
	})
	t.Run("gadget.yaml names a missing program", func(t *testing.T) {
		wantErr(t, prepareErr(t, "x", gadgettest.Compile(t, "exec"), "programs:\n  nope:\n    optional: true\n"),
			"gadget x", `program "nope"`, "gtest_exec")
	})
	t.Run("param of the wrong type", func(t *testing.T) {
		rt := runtime.New(runtime.Options{})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("x", gadgettest.Compile(t, "exec"), ""))
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, g.Validate("pid", "abc"), "gadget x", "--pid", `"abc" is not a uint32 number`)
		wantErr(t, g.Validate("with_filename", "maybe"), "--with_filename", "not a bool")
		wantErr(t, g.Validate("comm", "a-name-much-too-long-for-comm"), "--comm", "at most 15")
		wantErr(t, g.Validate("nosuch", "1"), "gadget x has no parameter", "marker")
		_, err = rt.Start(context.Background(), g, runtime.RunOptions{Params: map[string]string{"pid": "abc"}})
		wantErr(t, err, "--pid")
	})
}

// TestISAHint: a program the verifier rejects for an out-of-bounds access that clang 19 made
// by compiling for BPF ISA v1 (its default) fails with the way out, cflags: -mcpu=v3, and
// leaves nothing in the kernel; built that way it loads.
func TestISAHint(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	start := func(obj []byte) error {
		rt := runtime.New(runtime.Options{})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("isa", obj, ""))
		if err != nil {
			t.Fatal(err)
		}
		run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
		if err == nil {
			run.Stop()
		}
		return err
	}
	wantErr(t, start(gadgettest.Compile(t, "isa_bound")), "gadget isa: program gtest_isa (raw_tracepoint/sys_enter) failed to load: load program: permission denied: invalid access",
		"invalid access to map value", "compiled for BPF ISA v1 or v2", "add `cflags: -mcpu=v3` to build.yaml")
	if err := start(gadgettest.Compile(t, "isa_bound", "-mcpu=v3")); err != nil {
		t.Errorf("built for v3: %v", err)
	}
	gadgettest.CheckClean(t, prefix, before)
}

// TestAttachErrorLeavesKernelClean makes attaching fail after the collection is loaded (a
// tracepoint target that does not exist, through attach_to) and checks nothing stays.
func TestAttachErrorLeavesKernelClean(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("badattach", gadgettest.Compile(t, "exec"),
		"programs:\n  gtest_exec:\n    attach_to: sched/no_such_tracepoint\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Start(context.Background(), g, runtime.RunOptions{})
	wantErr(t, err, "gadget badattach", "program gtest_exec", "sched/no_such_tracepoint")
	gadgettest.CheckClean(t, prefix, before)
}

func TestDisabledProgramIsNotLoaded(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("disabled", gadgettest.Compile(t, "optional"),
		"programs:\n  gtest_kprobe:\n    attach_to: gadget_program_disabled\n  gtest_fentry:\n    attach_to: gadget_program_disabled\n"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := gadgettest.Objects(t, prefix)
	for o := range objs {
		if strings.Contains(o, "gtest_kprobe") || strings.Contains(o, "gtest_fentry") {
			t.Errorf("disabled program loaded: %s", o)
		}
	}
	run.Stop()
	gadgettest.CheckClean(t, prefix, before)
}

// TestOptionalPrograms: programs whose attach type the kernel lacks (here fentry fails to load
// with EPERM and kprobes are absent) stop the run unless gadget.yaml marks them optional.
func TestOptionalPrograms(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "optional")
	rt := runtime.New(runtime.Options{})

	before := gadgettest.Objects(t, prefix)
	g, err := rt.Prepare(context.Background(), gadgettest.Image("opt", obj, ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err == nil {
		run.Stop()
		t.Skip("this kernel runs both fentry and kprobe programs: nothing is missing to test")
	}
	wantErr(t, err, "gadget opt", "program gtest_", "the kernel lacks", "optional: true")
	gadgettest.CheckClean(t, prefix, before)

	g, err = rt.Prepare(context.Background(), gadgettest.Image("opt2", obj,
		"programs:\n  gtest_kprobe:\n    optional: true\n  gtest_fentry:\n    optional: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	bin := gadgettest.UniqueExecutable(t)
	var c capture
	run, err = rt.Start(context.Background(), g, runtime.RunOptions{
		Params: map[string]string{"comm": filepath.Base(bin)},
		Hooks:  []runtime.Hooks{c.hooks(t, "json", "proc.comm", "")},
	})
	if err != nil {
		t.Fatalf("optional programs still fail the run: %v", err)
	}
	c.wait(t, run, 1, func() { runBin(t, bin) })
	// A program skipped at attach is unloaded at once, not held until the run ends.
	for _, name := range []string{"gtest_kprobe", "gtest_fentry"} {
		for o := range gadgettest.Objects(t, name) {
			if !before[o] {
				t.Errorf("skipped program still loaded while the run goes on: %s", o)
			}
		}
	}
	run.Stop()
	s := run.Summary()
	if len(s.SkippedPrograms) == 0 {
		t.Errorf("no skipped programs in the summary: %+v", s)
	}
	for _, p := range s.SkippedPrograms {
		if !strings.Contains(p, "the kernel lacks") {
			t.Errorf("skipped program without reason: %s", p)
		}
	}
	t.Logf("skipped: %v", s.SkippedPrograms)
	gadgettest.CheckClean(t, prefix, before)
}

// TestAttachKinds attaches tracepoint, raw_tracepoint, tp_btf, uprobe (target from attach_to)
// and iter programs, checks the ones that fire counted hits, and that nothing stays.
func TestAttachKinds(t *testing.T) {
	gadgettest.RequireRoot(t)
	libc := "/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(libc); err != nil {
		t.Skipf("no %s to put a uprobe on", libc)
	}
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("kinds", gadgettest.Compile(t, "attach_kinds"),
		"programs:\n  gtest_uprobe:\n    attach_to: "+libc+":exit\n  gtest_tpbtf:\n    optional: true\n  gtest_iter:\n    optional: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	skipped := strings.Join(run.Summary().SkippedPrograms, "\n")
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Fatal(err)
	}
	hits := run.Map("gtest_hits")
	for i, name := range []string{"gtest_tp", "gtest_rawtp", "gtest_tpbtf", "gtest_uprobe"} {
		var n uint64
		if err := hits.Lookup(uint32(i), &n); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(skipped, name) {
			t.Logf("%s skipped: the kernel lacks it", name)
			continue
		}
		if n == 0 {
			t.Errorf("%s attached but never fired", name)
		}
	}
	run.Stop()
	gadgettest.CheckClean(t, prefix, before)
}

// TestEnabledIf: a program gadget.yaml marks `enabled_if: <param>=<value>` is loaded and
// attached only when the run's parameter has that value (trace_exec's failed-exec programs,
// which cost every syscall, are attached only with --ignore-failed=false).
func TestEnabledIf(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "enabled_if")
	rt := runtime.New(runtime.Options{})
	before := gadgettest.Objects(t, prefix)
	g, err := rt.Prepare(context.Background(), gadgettest.Image("enabledif", obj,
		"programs:\n  gtest_extra:\n    enabled_if: with-extra=true\nparams:\n  ebpf:\n    with_extra:\n      key: with-extra\n"))
	if err != nil {
		t.Fatal(err)
	}
	loaded := func(params map[string]string) bool {
		t.Helper()
		run, err := rt.Start(context.Background(), g, runtime.RunOptions{Params: params})
		if err != nil {
			t.Fatal(err)
		}
		defer run.Stop()
		for o := range gadgettest.Objects(t, prefix) {
			if strings.Contains(o, "gtest_extra") {
				return true
			}
		}
		return false
	}
	if loaded(nil) {
		t.Error("program loaded with the parameter at its default (false)")
	}
	if !loaded(map[string]string{"with-extra": "true"}) {
		t.Error("program not loaded with --with-extra=true")
	}
	if loaded(map[string]string{"with-extra": "0"}) {
		t.Error(`program loaded with --with-extra=0 (bool params compare by value)`)
	}
	gadgettest.CheckClean(t, prefix, before)

	_, err = rt.Prepare(context.Background(), gadgettest.Image("enabledif2", obj,
		"programs:\n  gtest_extra:\n    enabled_if: no-such=true\n"))
	wantErr(t, err, "gadget enabledif2", `enabled_if names parameter "no-such"`)
}
