package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
path to a compiled eBPF object (./program.bpf.o, with gadget.yaml next to it).
With trusted keys (--public-keys, or publicKeys of the config file), an image from a registry or
the local store runs only when a signature one of them verifies is stored with it (cosign's
format); built-in gadgets are trusted.
Gadget parameters appear as flags below when REF is given: gadgetry run REF --help.`

// runFlags are the flags every run has; the gadget's parameters are added once REF is known.
type runFlags struct {
	output  string
	fields  string
	filters []string
	timeout string
	pull    string
	help    bool
	// containers selects containers (-c) and drops host events (--containers-only).
	containerNames string
	containersOnly bool
	runcRoots      []string
	// wasmMemoryLimit bounds the gadget's WASM module's memory, in MiB.
	wasmMemoryLimit uint32
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.output, "output", "o", "columns", "output mode: columns, json, jsonpretty or yaml")
	fs.StringVar(&f.fields, "fields", "", "fields to show: a,b picks exactly those; +x adds, -y removes from the defaults")
	fs.StringArrayVarP(&f.filters, "filter", "F", nil, "show only events matching field==v, !=, >, >=, <, <=, ~regex (comma = and; repeatable)")
	fs.StringVarP(&f.timeout, "timeout", "t", "0", "stop after this long (seconds, or a duration like 500ms); 0 runs until Ctrl-C")
	fs.StringVar(&f.pull, "pull", string(oci.PullMissing), "when to pull the image: always, missing or never")
	fs.BoolVarP(&f.help, "help", "h", false, "help for run (with REF: the gadget's parameters too)")
	fs.StringVarP(&f.containerNames, "containername", "c", "", "show only events of these containers (name,name,!excluded), filtered in the kernel")
	fs.BoolVar(&f.containersOnly, "containers-only", false, "show only events from containers (not the host)")
	fs.StringSliceVar(&f.runcRoots, "runc-root", nil, "extra runc state roots (runc --root) to learn container names from, beside /run/runc and containerd's and docker's")
	fs.Uint32Var(&f.wasmMemoryLimit, "wasm-memory-limit", wasm.DefaultMemoryLimitMiB, fmt.Sprintf("memory the gadget's WASM module may use, in MiB (1 to %d); a module that needs more fails the run", wasm.MaxMemoryLimitMiB))
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
	}
	return cmd
}

func runGadget(cmd *cobra.Command, args []string) error {
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
	fs.SetOutput(cmd.ErrOrStderr())
	var final runFlags
	final.register(fs)
	bindOCIFlags(fs) // parsed again so errors show; the values come from the first parse
	bindTrustFlags(fs)
	if ref == "" {
		if rf.help {
			printRunHelp(cmd.OutOrStdout(), fs, nil, nil)
			return nil
		}
		return errors.New("run: missing REF; e.g. `gadgetry run trace_exec` (see `gadgetry run --help`)")
	}
	pull, err := oci.ParsePullPolicy(rf.pull)
	if err != nil {
		return err
	}
	logger := slog.New(warningHandler{w: cmd.ErrOrStderr()})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Resolve first: whether a WASM engine is needed depends on the image. An image of a
	// registry or the local store is verified against the trusted keys before anything of it
	// is parsed or loaded.
	trust, err := trustF.load()
	if err != nil {
		return err
	}
	img, err := runSource(ociF, trust.keys).Resolve(ctx, ref, pull, goruntime.GOARCH)
	if err != nil {
		return err
	}
	if !img.BuiltIn && img.Signature == nil && !isObjectFile(ref) {
		trust.warnUnverified(cmd.ErrOrStderr(), img.Ref, img.Pulled)
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
		return err
	}
	// The gadget's params become flags; the one parse of the image serves both help and run.
	values := map[string]*string{}
	pfs := pflag.NewFlagSet("params", pflag.ContinueOnError)
	for _, p := range g.Params {
		if fs.Lookup(p.Key) != nil {
			return fmt.Errorf("gadget %s: parameter %q clashes with the run flag --%s; give it another key in gadget.yaml", g.Name, p.Key, p.Key)
		}
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
	fs.AddFlagSet(pfs)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("gadget %s: %w (see `gadgetry run %s --help`)", g.Name, err, ref)
	}
	if final.help {
		printRunHelp(cmd.OutOrStdout(), fs, g, pfs)
		return nil
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("run: unexpected arguments %q after REF", fs.Args()[1:])
	}
	params := map[string]string{}
	for key, v := range values {
		if fs.Changed(key) {
			if err := g.Validate(key, *v); err != nil {
				return err
			}
			params[key] = *v
		}
	}
	mode, err := output.ParseMode(final.output)
	if err != nil {
		return err
	}
	timeout, err := parseTimeout(final.timeout)
	if err != nil {
		return err
	}
	if final.wasmMemoryLimit == 0 || final.wasmMemoryLimit > wasm.MaxMemoryLimitMiB {
		return fmt.Errorf("--wasm-memory-limit %d: want 1 to %d (MiB)", final.wasmMemoryLimit, wasm.MaxMemoryLimitMiB)
	}
	// Every event of a gadget that records mount namespaces gets container fields (empty for
	// the host); -c and --containers-only select in the kernel.
	var hooks []runtime.Hooks
	if g.HasMntnsField() {
		sel, err := containers.ParseSelector(final.containerNames)
		if err != nil {
			return fmt.Errorf("--containername: %w", err)
		}
		sel.ContainersOnly = final.containersOnly
		cache, err := containers.New(ctx, containers.Options{RuncRoots: final.runcRoots})
		if err != nil {
			return err
		}
		defer cache.Close()
		hooks = append(hooks, runtime.ContainerHooks(cache, sel))
	} else if final.containerNames != "" || final.containersOnly {
		return fmt.Errorf("gadget %s records no mount namespace (no field of type gadget_mntns_id): it cannot select containers", g.Name)
	}
	out := &cliOutput{mode: mode, fieldSpec: final.fields, filters: final.filters, w: cmd.OutOrStdout(), errw: cmd.ErrOrStderr()}
	run, err := rt.Start(ctx, g, runtime.RunOptions{
		Params:     params,
		Timeout:    timeout,
		Hooks:      append(hooks, runtime.Hooks{Name: "output", Init: out.init}),
		AfterDrain: out.flush,
		// The gadget's WASM module's memory (the flag's default is the engine's).
		WASMMemoryLimitMiB: final.wasmMemoryLimit,
		OnLost: func(ds string, newly, total uint64) {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d records of %s lost (ring buffer full; %d so far)\n", newly, ds, total)
		},
	})
	if err != nil {
		return err
	}
	rt.ReleaseKernelBTF() // one run per process: the parsed kernel BTF is garbage now
	werr := run.Wait()
	out.flush()
	sum := run.Summary()
	out.summary(sum)
	return errors.Join(werr, out.err)
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
	if params != nil && params.HasFlags() {
		fmt.Fprintln(w, "\nGadget parameters:")
		fmt.Fprint(w, params.FlagUsages())
	}
	if g != nil {
		fmt.Fprintf(w, "\nGadget %s", g.Name)
		if g.Meta.Description != "" {
			fmt.Fprintf(w, ": %s", g.Meta.Description)
		}
		fmt.Fprintln(w)
		for _, ds := range mustDataSources(g) {
			var names []string
			for _, f := range ds.Fields() {
				if !f.Hidden {
					names = append(names, f.Name)
				}
			}
			fmt.Fprintf(w, "  data source %s fields: %s\n", ds.Name, strings.Join(names, ", "))
		}
	}
}

func mustDataSources(g *runtime.Gadget) []*datasource.DataSource {
	dss, _ := g.NewDataSources()
	return dss
}

// cliOutput writes each data source's records to stdout in the chosen mode.
type cliOutput struct {
	mode      output.Mode
	fieldSpec string
	filters   []string
	w, errw   io.Writer

	mu      sync.Mutex
	writers []*output.Writer
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
			return err
		}
		var flts []*filter.Filter
		for _, expr := range o.filters {
			f, err := filter.Parse(ds, expr, fm)
			if err != nil {
				return err
			}
			flts = append(flts, f)
		}
		if ds.Type == datasource.TypeArray {
			o.initArray(ds, fields, flts, fm) // run_array.go
			continue
		}
		w := output.New(o.w, o.mode, fields, fm)
		o.writers = append(o.writers, w)
		ds.Subscribe(1000, func(_ *datasource.DataSource, d *datasource.Data) error {
			if !matchAll(flts, d) {
				return nil
			}
			if err := w.Write(d); err != nil && o.err == nil {
				o.err = fmt.Errorf("writing output: %w", err)
			}
			return nil
		})
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

func (o *cliOutput) flush() {
	for _, w := range o.writers {
		if err := w.Flush(); err != nil && o.err == nil {
			o.err = fmt.Errorf("writing output: %w", err)
		}
	}
}

func (o *cliOutput) summary(s runtime.Summary) {
	if o.mode == output.Columns {
		var lost []string
		for name, c := range s.DataSources {
			if c.Lost > 0 {
				lost = append(lost, fmt.Sprintf("%s: %d events, %d lost", name, c.Events, c.Lost))
			}
		}
		if len(lost) > 0 {
			fmt.Fprintf(o.errw, "summary: %s\n", strings.Join(lost, "; "))
		}
		return // skipped programs were warned about when skipped
	}
	if len(o.writers) > 0 {
		_ = o.writers[0].WriteSummary(s)
		_ = o.writers[0].Flush()
	}
}

// warningHandler prints the runtime's warnings as "warning: msg (key=value ...)" lines.
type warningHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

func (h warningHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warningHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("warning: " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			b.WriteString(": " + a.Value.String())
		}
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h warningHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return warningHandler{w: h.w, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

func (h warningHandler) WithGroup(string) slog.Handler { return h }
