package runtime_test

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// altYAML makes the three fork counters of testdata/alternatives.bpf.c alternatives of the
// parameter "how", best first in the order values lists them.
func altYAML(values string) string {
	return "params:\n  wasm:\n    how:\n      key: how\n      defaultValue: auto\n      possibleValues: [" + values + "]\n" +
		"programs:\n  gtest_alt_lsm:\n    alternative: how=lsm\n  gtest_alt_tp:\n    alternative: how=tp\n  gtest_alt_tp2:\n    alternative: how=tp2\n"
}

// TestAlternatives: of the programs gadget.yaml makes alternatives of one parameter, only the
// chosen one loads and runs: the best the kernel can run (possibleValues order) for a value no
// alternative names, the one asked for otherwise, or a clear error when the kernel cannot run it.
// The run says what it chose in a warning and in its summary.
func TestAlternatives(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "alternatives")
	before := gadgettest.Objects(t, prefix)
	lsm := kernel.Have(kernel.LSM) == nil

	start := func(values string, params map[string]string) (*runtime.Run, string, error) {
		t.Helper()
		var log bytes.Buffer
		rt := runtime.New(runtime.Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("alt", obj, altYAML(values)))
		if err != nil {
			t.Fatal(err)
		}
		run, err := rt.Start(context.Background(), g, runtime.RunOptions{Params: params})
		return run, log.String(), err
	}
	// check runs an exec and verifies that only the program of want counted it.
	check := func(run *runtime.Run, want string) {
		t.Helper()
		if got := run.Summary().Choices["how"]; got != want {
			t.Errorf("summary chose %q, want %q", got, want)
		}
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
		for slot, name := range []string{"lsm", "tp", "tp2"} {
			var n uint64
			if err := run.Map("gtest_alt_hits").Lookup(uint32(slot), &n); err != nil {
				t.Fatal(err)
			}
			if (n > 0) != (name == want) {
				t.Errorf("program of %s counted %d execs; only %s's should run", name, n, want)
			}
		}
		for o := range gadgettest.Objects(t, "gtest_alt_") {
			if !before[o] && !strings.HasSuffix(o, "gtest_alt_"+want) && !strings.Contains(o, "gtest_alt_hits") {
				t.Errorf("%s is loaded, but the run chose %s", o, want)
			}
		}
		run.Stop()
	}

	t.Run("auto takes the best the kernel runs", func(t *testing.T) {
		want, why := "tp", "lsm is unavailable: program gtest_alt_lsm (lsm/bprm_check_security) needs BPF LSM"
		if lsm {
			want, why = "lsm", "(the first of lsm, tp, tp2 this kernel can run)"
		}
		run, log, err := start("auto, lsm, tp, tp2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, "gadget alt: how "+want+": program gtest_alt_"+want+" runs") || !strings.Contains(log, why) {
			t.Errorf("warning does not say what was chosen and why (want %q and %q):\n%s", want, why, log)
		}
		check(run, want)
	})
	t.Run("preference is possibleValues order", func(t *testing.T) {
		run, _, err := start("tp2, tp, auto, lsm", nil)
		if err != nil {
			t.Fatal(err)
		}
		check(run, "tp2")
	})
	t.Run("a value asked for", func(t *testing.T) {
		run, log, err := start("auto, lsm, tp, tp2", map[string]string{"how": "tp2"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, "how tp2: program gtest_alt_tp2 runs, as --how=tp2 asks") {
			t.Errorf("warning: %s", log)
		}
		check(run, "tp2")
	})
	t.Run("a value the kernel cannot run", func(t *testing.T) {
		if lsm {
			t.Skip("this kernel runs lsm programs: every alternative is available")
		}
		run, _, err := start("auto, lsm, tp, tp2", map[string]string{"how": "lsm"})
		if err == nil {
			run.Stop()
			t.Fatal("--how=lsm started on a kernel without the BPF LSM")
		}
		wantErr(t, err, "gadget alt: --how=lsm cannot run on this kernel: program gtest_alt_lsm (lsm/bprm_check_security) needs BPF LSM",
			"leave --how at its default")
	})
	t.Run("a value not possible", func(t *testing.T) {
		_, _, err := start("auto, lsm, tp, tp2", map[string]string{"how": "maybe"})
		wantErr(t, err, `gadget alt: --how: "maybe" is not one of auto, lsm, tp, tp2`)
	})
	gadgettest.CheckClean(t, prefix, before)

	rt := runtime.New(runtime.Options{})
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown parameter", "programs:\n  gtest_alt_tp:\n    alternative: nope=tp\n",
			`gadget bad: gadget.yaml programs.gtest_alt_tp.alternative nope=tp names parameter "nope"`},
		{"value not listed", altYAML("auto, lsm, tp"),
			`gadget bad: gadget.yaml programs.gtest_alt_tp2.alternative how=tp2: "tp2" is not among the possibleValues of parameter how (auto, lsm, tp)`},
		{"optional", altYAML("auto, lsm, tp, tp2") + "    optional: true\n",
			"gadget bad: gadget.yaml programs.gtest_alt_tp2.alternative how=tp2: an alternative cannot be optional"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rt.Prepare(context.Background(), gadgettest.Image("bad", obj, c.yaml))
			wantErr(t, err, c.want)
		})
	}
}
