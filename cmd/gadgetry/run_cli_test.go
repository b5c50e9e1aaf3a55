package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRunUsageErrors: a run command line that cannot run as written is refused before anything
// is loaded, with exit status 2 and the whole reason: run's own flags, the gadget's parameters,
// -F filters checked against the fields (a number for proc.pid, YES/NO/UNKNOWN for a
// tri-state, the nearest field for an unknown one), --fields. Nothing is left in the kernel.
func TestRunUsageErrors(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, "trace_exec")
	const uint32s = "uint32 numbers (0 to 4294967295)"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "run: missing REF; e.g. `gadgetry run trace_exec` (see `gadgetry run --help`)"},
		{[]string{"run", "trace_exec", "-o", "xml"}, `-o "xml": want columns, wide, json, jsonpretty or yaml`},
		{[]string{"run", "trace_exec", "--pull", "sometimes"}, `--pull: invalid pull policy "sometimes": want always, missing or never`},
		{[]string{"run", "trace_exec", "-t", "soon"}, `--timeout "soon": want seconds (10) or a duration (500ms)`},
		{[]string{"run", "trace_exec", "--summary", "xml"}, `--summary "xml": want text, json or none`},
		{[]string{"run", "trace_exec", "--wasm-memory-limit", "0"}, "--wasm-memory-limit 0: want 1 to 4096 (MiB)"},
		{[]string{"run", "trace_exec", "--pid=abc"}, `gadget trace_exec: --pid: "abc" is not a uint32 number (0 to 4294967295)`},
		{[]string{"run", "trace_exec", "--ignore-failed=maybe"}, `gadget trace_exec: --ignore-failed: "maybe" is not a bool (use true or false)`},
		{[]string{"run", "trace_exec", "--nope"}, "gadget trace_exec: unknown flag: --nope (see `gadgetry run trace_exec --help`)"},
		{[]string{"run", "trace_exec", "extra"}, `run: unexpected arguments ["extra"] after REF`},
		{[]string{"run", "trace_exec", "--ignore-failed", "false"}, `run: unexpected arguments ["false"] after REF: a boolean flag takes its value after '=': write --ignore-failed=false`},
		{[]string{"run", "trace_exec", "-F", "proc.pid>abc"}, `gadget trace_exec: filter "proc.pid>abc": "abc" is not a number, and proc.pid holds ` + uint32s},
		{[]string{"run", "trace_exec", "-F", "upper_layer==MAYBE"}, `gadget trace_exec: filter "upper_layer==MAYBE": upper_layer is YES, NO or UNKNOWN, not "MAYBE"`},
		{[]string{"run", "trace_exec", "-F", ""}, `gadget trace_exec: filter "" is empty: write field==value (or !=, >, >=, <, <=, ~regex), rules joined by commas`},
		{[]string{"run", "trace_exec", "-F", "comm==bash"}, `gadget trace_exec: filter "comm==bash": data source exec has no field "comm"; did you mean proc.comm or proc.parent.comm?`},
		{[]string{"run", "trace_exec", "-F", "error==ENOPE"}, `gadget trace_exec: filter "error==ENOPE": "ENOPE" is neither an errno name (ENOENT, EACCES…) nor a number (error holds ` + uint32s + ")"},
		{[]string{"run", "trace_exec", "--fields", "comm,exepath"}, `gadget trace_exec: --fields: data source exec has no field "comm"; did you mean proc.comm or proc.parent.comm?`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			args := append(tc.args[:1:1], append([]string{"--store", store}, tc.args[1:]...)...)
			runCLI(t, cliEnv(t), "", args...).wantError(t, 2, tc.want)
			if _, err := os.Stat(store); err == nil {
				t.Errorf("the run created the store %s", store)
			}
		})
	}
	gadgettest.CheckClean(t, "trace_exec", before)
}

// TestRunUnknownName: a bare name that is neither a built-in gadget nor in the local store is
// not looked up in a registry (a typo would go to ghcr.io): the error lists the built-ins,
// nearest first, and creates no store. Exit status 1.
func TestRunUnknownName(t *testing.T) {
	gadgettest.RequireRoot(t)
	ctx := context.Background()
	cat, err := catalogue.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := oci.Tags(ctx, cat)
	if err != nil {
		t.Fatal(err)
	}
	var bare []string
	for _, n := range names {
		if !strings.Contains(n, ":") {
			bare = append(bare, n)
		}
	}
	nearest := filter.Nearest("trace_exe", bare, true)
	if nearest[0] != "trace_exec" {
		t.Fatalf("nearest built-ins to trace_exe: %v, want trace_exec first", nearest)
	}
	store := filepath.Join(t.TempDir(), "store")
	runCLI(t, cliEnv(t), "", "run", "trace_exe", "--store", store).wantError(t, 1, "trace_exe is neither a built-in gadget ("+strings.Join(nearest, ", ")+
		", nearest first) nor an image in the local store ("+store+"); to run an image of a registry, give its full reference (ghcr.io/inspektor-gadget/gadget/trace_exe:latest)")
	if _, err := os.Stat(store); err == nil {
		t.Errorf("the run created the store %s", store)
	}
}
