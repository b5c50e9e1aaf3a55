package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

const runUsage = `Run a gadget and stream its events.

REF is a built-in gadget name (trace_exec), an image reference (ghcr.io/org/gadget:v1), or a
path to a compiled eBPF object (./program.bpf.o, with gadget.yaml next to it). A bare name
runs the image of the local store with that name when there is one, else the built-in gadget
of that name; a bare name that is neither is an error (a registry is asked only with a
registry prefix configured: --registry-prefix).
With trusted keys (--public-keys, or publicKeys of the config file), an image from a registry or
the local store runs only when a signature one of them verifies is stored with it (cosign's
format); built-in gadgets are trusted.
Gadget parameters appear as flags below when REF is given: gadgetry run REF --help.

On a Kubernetes cluster where Gadgetry is deployed (gadgetry deploy), --k8s runs the gadget on
every node through the node daemons and streams their events as one, selecting pods with
-n, -A, -p, -l and -c and nodes with --node (kubectl gadgetry run REF is the same); --daemons
ADDR,... reaches daemons directly. Those flags: gadgetry run REF --k8s --help (docs/kubernetes.md).

Exit status: 0 when the run ended by itself (--timeout), 1 on an error, 2 for a command line
that cannot run, 130 when stopped by SIGINT (Ctrl-C), 143 by SIGTERM.`

// runFlags are the flags every run has; the gadget's parameters are added once REF is known.
type runFlags struct {
	output  string
	fields  string
	filters []string
	timeout string
	pull    string
	help    bool
	// wide keeps every column value whole on a terminal (-o wide is the same).
	wide bool
	// quiet leaves out notes and once-per-host warnings.
	quiet bool
	// summary is where the end-of-run summary goes: text, json or none (on stderr);
	// summaryFile also writes it as JSON to a file.
	summary     string
	summaryFile string
	// containers selects containers (-c) and drops host events (--containers-only).
	containerNames string
	containersOnly bool
	runcRoots      []string
	// wasmMemoryLimit bounds the gadget's WASM module's memory, in MiB.
	wasmMemoryLimit uint32
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.output, "output", "o", "columns", "output mode: columns, wide (columns with every value whole), json, jsonpretty or yaml")
	fs.StringVar(&f.fields, "fields", "", "fields to show: a,b picks exactly those; +x adds, -y removes from the defaults")
	fs.StringArrayVarP(&f.filters, "filter", "F", nil, "show only events matching field==v, !=, >, >=, <, <=, ~regex (comma = and; repeatable)")
	fs.StringVarP(&f.timeout, "timeout", "t", "0", "stop after this long (seconds, or a duration like 500ms); 0 runs until Ctrl-C")
	fs.StringVar(&f.pull, "pull", string(oci.PullMissing), "when to pull the image: always, missing or never")
	fs.BoolVarP(&f.help, "help", "h", false, "help for run (with REF: the gadget's parameters too)")
	fs.BoolVar(&f.wide, "wide", false, "on a terminal, keep every column value whole instead of cutting it to the terminal's width")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "leave out notes (which image ran, containers not running yet) and what this kernel lacks")
	fs.StringVar(&f.summary, "summary", "text", "the summary at the end of the run, on stderr: text (a line when records were lost), json (the summary object, always) or none")
	fs.StringVar(&f.summaryFile, "summary-file", "", "also write the summary as a JSON object to this file")
	fs.StringVarP(&f.containerNames, "containername", "c", "", "show only events of these containers (name,name,!excluded), filtered in the kernel")
	fs.BoolVar(&f.containersOnly, "containers-only", false, "show only events from containers (not the host)")
	fs.StringSliceVar(&f.runcRoots, "runc-root", nil, "extra runc state roots (runc --root) to learn container names from, beside /run/runc and containerd's and docker's")
	fs.Uint32Var(&f.wasmMemoryLimit, "wasm-memory-limit", wasm.DefaultMemoryLimitMiB, fmt.Sprintf("memory the gadget's WASM module may use, in MiB (1 to %d); a module that needs more fails the run", wasm.MaxMemoryLimitMiB))
}

// check validates the flags that do not depend on the gadget, before anything is done: a
// wrong one is a usage error.
func (f *runFlags) check() (mode output.Mode, wide bool, timeout time.Duration, pull oci.PullPolicy, err error) {
	if pull, err = oci.ParsePullPolicy(f.pull); err != nil {
		return "", false, 0, "", usagef("--pull: %w", err)
	}
	wide = f.wide
	if f.output == "wide" {
		mode, wide = output.Columns, true
	} else if mode, err = output.ParseMode(f.output); err != nil {
		return "", false, 0, "", usagef("-o %q: want columns, wide, json, jsonpretty or yaml", f.output)
	}
	if timeout, err = parseTimeout(f.timeout); err != nil {
		return "", false, 0, "", usage(err)
	}
	switch f.summary {
	case "text", "json", "none":
	default:
		return "", false, 0, "", usagef("--summary %q: want text, json or none", f.summary)
	}
	if f.wasmMemoryLimit == 0 || f.wasmMemoryLimit > wasm.MaxMemoryLimitMiB {
		return "", false, 0, "", usagef("--wasm-memory-limit %d: want 1 to %d (MiB)", f.wasmMemoryLimit, wasm.MaxMemoryLimitMiB)
	}
	return mode, wide, timeout, pull, nil
}

func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:                "run REF [flags]",
		Short:              "Run a gadget and stream its events",
		Long:               runUsage,
		DisableFlagParsing: true, // the gadget's params are flags: parsed once REF is resolved
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGadget(cmd, args)
		},
		ValidArgsFunction: completeRun,
	}
	return cmd
}

func runGadget(cmd *cobra.Command, args []string) error {
	if k8sRunWanted(args) { // --k8s, or run as kubectl-gadgetry: k8s_run.go
		return runK8s(cmd, args)
	}
	var rf runFlags
	pre := pflag.NewFlagSet("run", pflag.ContinueOnError)
	pre.ParseErrorsAllowlist.UnknownFlags = true
	pre.SetOutput(io.Discard)
	rf.register(pre)
	ociF := bindOCIFlags(pre)
	trustF := bindTrustFlags(pre)
	_ = pre.Parse(args) // unknown flags (the gadget's) are allowed here
	ref := ""
	if pre.NArg() > 0 {
		ref = pre.Arg(0)
	}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are returned, said once
	var final runFlags
	final.register(fs)
	bindOCIFlags(fs) // parsed again so errors show; the values come from the first parse
	bindTrustFlags(fs)
	if ref == "" {
		if rf.help {
			printRunHelp(cmd.OutOrStdout(), fs, nil, nil)
			return nil
		}
		return usagef("run: missing REF; e.g. `gadgetry run trace_exec` (see `gadgetry run --help`)")
	}
	mode, wide, timeout, pull, err := rf.check()
	if err != nil {
		return err
	}
	errw := cmd.ErrOrStderr()
	if !rf.help {
		// Before anything is read, created or loaded: without the privileges every load
		// fails with EPERM, which reads like a kernel without tp_btf or a MEMLOCK limit.
		if err := runtime.CheckPrivileges(); err != nil {
			return err
		}
	}
	notices := newNoticeState()
	logger := slog.New(warningHandler{w: errw, quiet: rf.quiet, seen: notices})
	note := func(msg string) {
		if !rf.quiet {
			fmt.Fprintln(errw, "note: "+msg)
		}
	}
	sigs, ctx := watchSignals(errw)
	defer sigs.done()
	// Resolve first: whether a WASM engine is needed depends on the image. An image of a
	// registry or the local store is verified against the trusted keys before anything of it
	// is parsed or loaded.
	trust, err := trustF.load()
	if err != nil {
		return err
	}
	img, err := runSource(ociF, trust.keys, note).Resolve(ctx, ref, pull, goruntime.GOARCH)
	if err != nil {
		return interruptedOr(sigs, err)
	}
	if !img.BuiltIn && img.Signature == nil && !isObjectFile(ref) {
		trust.warnUnverified(errw, img.Ref, img.Pulled)
	}
	var engine *wasm.Engine
	if len(img.WASM) > 0 {
		if engine, err = wasm.NewEngine(wasm.DefaultCacheDir()); err != nil {
			return fmt.Errorf("gadget %s: starting the WASM engine: %w", ref, err)
		}
		defer engine.Close()
	}
	rt := runtime.New(runtime.Options{Logger: logger, WASM: engine})
	g, err := rt.Prepare(ctx, img)
	if err != nil {
		return interruptedOr(sigs, err)
	}
	// The gadget's params become flags; the one parse of the image serves both help and run.
	values := map[string]*string{}
	pfs := gadgetParamFlags(g, values)
	for _, p := range g.Params {
		if fs.Lookup(p.Key) != nil {
			return fmt.Errorf("gadget %s: parameter %q clashes with the run flag --%s; give it another key in gadget.yaml", g.Name, p.Key, p.Key)
		}
	}
	fs.AddFlagSet(pfs)
	if err := fs.Parse(args); err != nil {
		return usagef("gadget %s: %w (see `gadgetry run %s --help`)", g.Name, err, ref)
	}
	if final.help {
		printRunHelp(cmd.OutOrStdout(), fs, g, pfs)
		return nil
	}
	if fs.NArg() > 1 {
		if h := boolValueHint(fs, args, fs.Args()[1:]); h != "" {
			return usagef("run: unexpected arguments %q after REF: %s", fs.Args()[1:], h)
		}
		return usagef("run: unexpected arguments %q after REF", fs.Args()[1:])
	}
	params := map[string]string{}
	for key, v := range values {
		if fs.Changed(key) {
			if err := g.Validate(key, *v); err != nil {
				return usage(err)
			}
			params[key] = *v
		}
	}
	if err := g.CheckPrivileges(params); err != nil {
		return err
	}
	// Every event of a gadget that records mount namespaces gets container fields (empty for
	// the host); -c and --containers-only select in the kernel, and what the containers data
	// source tells a WASM module (the only selection of a gadget that asks for that data source
	// and records no mount namespace, as IG's traceloop).
	var hooks []runtime.Hooks
	if g.SelectsContainers() {
		sel, err := containers.ParseSelector(final.containerNames)
		if err != nil {
			return usagef("--containername: %w", err)
		}
		sel.ContainersOnly = final.containersOnly
		cache, err := containers.New(ctx, containers.Options{RuncRoots: final.runcRoots})
		if err != nil {
			return interruptedOr(sigs, err)
		}
		defer cache.Close()
		defer noteMissingContainers(cache, sel, note)()
		hooks = append(hooks, runtime.ContainerHooks(cache, sel))
	} else if final.containerNames != "" || final.containersOnly {
		return usagef("gadget %s records no mount namespace (no field of type gadget_mntns_id) and does not ask for the containers data source (annotation %s: true): it cannot select containers", g.Name, runtime.ContainersDataSourceAnnotation)
	}
	out := &cliOutput{mode: mode, fieldSpec: final.fields, filters: final.filters, w: cmd.OutOrStdout(), errw: errw,
		width: tableWidth(cmd.OutOrStdout(), wide), summaryMode: final.summary, summaryFile: final.summaryFile}
	run, err := rt.Start(ctx, g, runtime.RunOptions{
		Params:     params,
		Timeout:    timeout,
		Hooks:      append(hooks, runtime.Hooks{Name: "output", Init: out.init}),
		AfterDrain: out.flush,
		// The gadget's WASM module's memory (the flag's default is the engine's).
		WASMMemoryLimitMiB: final.wasmMemoryLimit,
		OnLost: func(ds string, newly, total uint64) {
			fmt.Fprintf(errw, "warning: %d records of %s lost (ring buffer full; %d so far)\n", newly, ds, total)
		},
	})
	if err != nil {
		return interruptedOr(sigs, err)
	}
	sigs.onForcedExit(func() { out.summaryNow(run.Summary()) })
	rt.ReleaseKernelBTF() // one run per process: the parsed kernel BTF is garbage now
	// The header at once: a run that shows nothing yet still shows what it will show.
	out.headers()
	werr := run.Wait()
	out.flush()
	sigs.done()
	out.summary(run.Summary())
	if err := errors.Join(werr, out.err); err != nil {
		return err
	}
	if sig := sigs.signalled(); sig != 0 {
		return interrupted{sig}
	}
	return nil
}

// interruptedOr returns how a run ends when err came while it was being set up: stopped by
// the signal that cancelled it, or err.
func interruptedOr(sigs *runSignals, err error) error {
	if sig := sigs.signalled(); sig != 0 {
		return interrupted{sig}
	}
	return err
}

// gadgetParamFlags returns a flag per parameter of g, its value stored in values[key].
func gadgetParamFlags(g *runtime.Gadget, values map[string]*string) *pflag.FlagSet {
	pfs := pflag.NewFlagSet("params", pflag.ContinueOnError)
	for _, p := range g.Params {
		desc := p.Description
		if desc == "" {
			desc = "parameter " + p.Key
		}
		desc += " (" + p.TypeName() + ")"
		values[p.Key] = pfs.String(p.Key, p.Default, desc)
		if p.Kind == datasource.KindBool {
			pfs.Lookup(p.Key).NoOptDefVal = "true" // --flag alone means true
		}
	}
	return pfs
}

// noteMissingContainers notes each container -c names that is not running yet, and again
// when it starts: a run that selects a container that does not exist shows nothing, and says
// why. It returns what stops the watching.
func noteMissingContainers(cache *containers.Cache, sel containers.Selector, note func(string)) func() {
	var missing []string
	for _, n := range sel.Include {
		if len(cache.Select(containers.Selector{Include: []string{n}})) == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return func() {}
	}
	note(fmt.Sprintf("no container named %s is running; waiting for it to start", strings.Join(missing, " or ")))
	var mu sync.Mutex
	_, cancel := cache.Watch(containers.Selector{Include: missing}, func(ev containers.Event) {
		if ev.Type != containers.EventAdd {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for i, n := range missing {
			if sel := (containers.Selector{Include: []string{n}}); sel.Match(ev.Container) {
				note(fmt.Sprintf("container %s started", n))
				missing = slices.Delete(missing, i, i+1)
				return
			}
		}
	})
	return cancel
}

// tableWidth returns the width a table on w must fit: 0 (every value whole) when w is not a
// terminal or wide asks so; else $COLUMNS when it is a positive number, else the terminal's
// width (TIOCGWINSZ).
func tableWidth(w io.Writer, wide bool) int {
	f, ok := w.(*os.File)
	if wide || !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	return 0
}

func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--timeout %q: want seconds (10) or a duration (500ms)", s)
	}
	return d, nil
}

func printRunHelp(w io.Writer, fs *pflag.FlagSet, g *runtime.Gadget, params *pflag.FlagSet) {
	fmt.Fprintln(w, runUsage)
	fmt.Fprintln(w, "\nUsage:\n  gadgetry run REF [flags]")
	fmt.Fprintln(w, "\nFlags:")
	if params != nil {
		fs = pflag.NewFlagSet("run", pflag.ContinueOnError)
		new(runFlags).register(fs)
		bindOCIFlags(fs)
		bindTrustFlags(fs)
	}
	fmt.Fprint(w, fs.FlagUsages())
	if g == nil {
		printGadgetHelp(w, params, "", "", nil)
		return
	}
	var sources []gadgetHelpSource
	for _, ds := range mustDataSources(g) {
		src := gadgetHelpSource{name: ds.Name, enriched: containers.MntnsField(ds) != nil}
		for _, f := range ds.Fields() {
			if !f.Hidden {
				src.fields = append(src.fields, f.Name)
			}
		}
		sources = append(sources, src)
	}
	printGadgetHelp(w, params, g.Name, g.Meta.Description, sources)
}

// gadgetHelpSource is what a run's help says of one data source: its fields, and whether the
// container enrichment adds its own.
type gadgetHelpSource struct {
	name     string
	fields   []string
	enriched bool
}

// printGadgetHelp ends a run's help (local or on a cluster): the gadget's parameters, then,
// once the gadget is known (name not ""), its description and each data source's fields.
func printGadgetHelp(w io.Writer, params *pflag.FlagSet, name, description string, sources []gadgetHelpSource) {
	if params != nil && params.HasFlags() {
		fmt.Fprintln(w, "\nGadget parameters:")
		fmt.Fprint(w, params.FlagUsages())
	}
	if name == "" {
		return
	}
	fmt.Fprintf(w, "\nGadget %s", name)
	if description != "" {
		fmt.Fprintf(w, ": %s", description)
	}
	fmt.Fprintln(w)
	for _, src := range sources {
		fmt.Fprintf(w, "  data source %s fields: %s\n", src.name, strings.Join(src.fields, ", "))
		if src.enriched {
			fmt.Fprintf(w, "    and its container's (empty for the host): %s\n", strings.Join(containers.EnrichmentFields(), ", "))
		}
	}
}

func mustDataSources(g *runtime.Gadget) []*datasource.DataSource {
	dss, _ := g.NewDataSources()
	return dss
}

// cliOutput writes each data source's records to stdout in the chosen mode. Records are
// written on the run's stream goroutine; the header (at once) and the summary on the command's;
// mu orders them.
type cliOutput struct {
	mode      output.Mode
	fieldSpec string
	filters   []string
	w, errw   io.Writer
	// width is the terminal width tables fit (0: every value whole).
	width int
	// summaryMode is --summary (text, json, none); summaryFile is --summary-file.
	summaryMode string
	summaryFile string

	mu      sync.Mutex
	writers []*output.Writer
	tables  []*output.Writer // the writers of single-record tables: their headers show at once
	err     error
}

func (o *cliOutput) init(r *runtime.Run) error {
	fm := format.New()
	for _, ds := range r.DataSources() {
		if len(ds.Fields()) == 0 || !r.IsReferenced(ds) {
			continue
		}
		fields, err := output.Select(ds, o.mode, o.fieldSpec)
		if err != nil {
			return usage(fmt.Errorf("gadget %s: %w", r.Gadget().Name, err))
		}
		var flts []*filter.Filter
		for _, expr := range o.filters {
			f, err := filter.Parse(ds, expr, fm)
			if err != nil {
				return usage(fmt.Errorf("gadget %s: %w", r.Gadget().Name, err))
			}
			flts = append(flts, f)
		}
		if ds.Type == datasource.TypeArray {
			o.initArray(ds, fields, flts, fm) // run_array.go
			continue
		}
		w := output.New(o.w, o.mode, fields, fm)
		w.SetWidth(o.width)
		o.writers = append(o.writers, w)
		o.tables = append(o.tables, w)
		ds.Subscribe(1000, func(_ *datasource.DataSource, d *datasource.Data) error {
			if !matchAll(flts, d) {
				return nil
			}
			o.mu.Lock()
			defer o.mu.Unlock()
			if err := w.Write(d); err != nil && o.err == nil {
				o.err = fmt.Errorf("writing output: %w", err)
			}
			return nil
		})
	}
	if len(o.filters) > 0 && len(o.writers) == 0 {
		return usagef("gadget %s: -F: the gadget has no data source to filter", r.Gadget().Name)
	}
	return nil
}

// matchAll reports whether d passes every -F filter.
func matchAll(flts []*filter.Filter, d *datasource.Data) bool {
	for _, f := range flts {
		if !f.Match(d) {
			return false
		}
	}
	return true
}

// headers writes the header of every table now (columns mode).
func (o *cliOutput) headers() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range o.tables {
		if err := w.WriteHeader(); err != nil && o.err == nil {
			o.err = fmt.Errorf("writing output: %w", err)
		}
	}
	o.flushLocked()
}

func (o *cliOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *cliOutput) flushLocked() {
	for _, w := range o.writers {
		if err := w.Flush(); err != nil && o.err == nil {
			o.err = fmt.Errorf("writing output: %w", err)
		}
	}
}

// summary writes the run's summary to stderr as --summary says (text: a line only when
// records were lost; json: the summary object, one line) and to --summary-file.
// stdout holds records only, one shape per output mode.
func (o *cliOutput) summary(s runtime.Summary) {
	o.writeSummary(s, o.summaryMode == "text" && !hasLosses(s))
}

// summaryNow writes the summary so far when a second signal ends the run at once: the text
// line always says the counts.
func (o *cliOutput) summaryNow(s runtime.Summary) { o.writeSummary(s, false) }

func (o *cliOutput) writeSummary(s runtime.Summary, quietText bool) {
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	if o.summaryFile != "" {
		if err := os.WriteFile(o.summaryFile, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(o.errw, "warning: writing the summary to %s: %v\n", o.summaryFile, err)
		}
	}
	switch o.summaryMode {
	case "json":
		fmt.Fprintf(o.errw, "%s\n", b)
	case "text":
		if !quietText {
			fmt.Fprintf(o.errw, "summary: %s\n", summaryText(s))
		}
	}
}

// dataSourceCounts returns the counts of each data source by their JSON names ("events",
// "lost", ...), numbers as json.Number.
func dataSourceCounts(s runtime.Summary) map[string]map[string]any {
	out := map[string]map[string]any{}
	for n, c := range s.DataSources {
		b, _ := json.Marshal(c)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var counts map[string]any
		_ = dec.Decode(&counts)
		out[n] = counts
	}
	return out
}

// hasLosses reports whether records were lost somewhere: a count other than the events and
// the records the gadget's own WASM module dropped (a guest that filters drops by design) is
// not zero.
func hasLosses(s runtime.Summary) bool {
	for _, counts := range dataSourceCounts(s) {
		for k, v := range counts {
			if n, ok := v.(json.Number); ok && k != "events" && k != "dropped" && n.String() != "0" {
				return true
			}
		}
	}
	return false
}

// summaryText says the counts of each data source: "exec: 120 events, 3 lost". Counts other
// than the events are shown only when not zero.
func summaryText(s runtime.Summary) string {
	all := dataSourceCounts(s)
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		counts := all[n]
		line := fmt.Sprintf("%s: %v events", n, counts["events"])
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if v, ok := counts[k].(json.Number); ok && k != "events" && v.String() != "0" {
				line += fmt.Sprintf(", %v %s", v, k)
			}
		}
		parts = append(parts, line)
	}
	if len(parts) == 0 {
		return "no data source"
	}
	return strings.Join(parts, "; ")
}
