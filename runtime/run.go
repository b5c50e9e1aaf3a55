package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/gadgetry/gadgetry/oci/metadata"
	"github.com/gadgetry/gadgetry/runtime/attach"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Hooks are an extension's entry points into the run sequence. Each may be nil. Extensions
// run in the order RunOptions.Hooks lists them, at each step.
//
//	Init      data sources exist: subscribe, add fields, create data sources (WASM gadgetInit,
//	          container enrichment, output).
//	PreStart  before the collection is loaded: params and attach targets may still change
//	          (WASM gadgetPreStart through Run.SetConfig).
//	Start     maps exist, nothing is attached: configure kernel-side filters (WASM gadgetStart,
//	          filling gadget_mntns_filter_map) so no event passes an unconfigured filter.
//	Stop      before detaching (WASM gadgetStop; the WASM hook first drains the ring buffers, so
//	          a flight-recorder guest sees every record read so far).
//	PostStop  after detaching and the last records (WASM gadgetPostStop).
type Hooks struct {
	Name                                  string
	Init, PreStart, Start, Stop, PostStop func(*Run) error
}

// RunOptions configure one run.
type RunOptions struct {
	// Params are parameter values by key; missing keys take their defaults.
	Params map[string]string
	// Hooks are the extensions, in order.
	Hooks []Hooks
	// Timeout stops the run after this long (0: run until Stop or the context ends).
	Timeout time.Duration
	// DrainInterval bounds how long a record waits in the ring buffer (default 50ms). The
	// buffer is also drained as soon as it is a quarter full. Perf event arrays are drained
	// once per interval, and sooner when the rate they filled at predicts a quarter-full buffer.
	DrainInterval time.Duration
	// PerfBufferPages is the size, in memory pages, of each per-CPU buffer of a perf event
	// array tracer (default DefaultPerfBufferPages; rounded up to a power of two).
	PerfBufferPages int
	// AfterDrain is called (on the stream goroutine) after each batch of records, e.g. to
	// flush buffered output.
	AfterDrain func()
	// OnLost is called (on the stream goroutine) when a tracer's lost-record counter grows;
	// by default a warning is logged.
	OnLost func(ds string, newlyLost, total uint64)
	// WASMMemoryLimitMiB bounds the memory of the gadget's WASM module (0: the engine's,
	// wasm.DefaultMemoryLimitMiB unless configured). A module that goes past it fails the run
	// with an error wrapping wasm.ErrMemoryLimit.
	WASMMemoryLimitMiB uint32
}

// Run is one running gadget.
type Run struct {
	rt       *Runtime
	g        *Gadget
	opts     RunOptions
	params   map[string]string
	attachTo map[string]string // program → target overrides from SetConfig
	vars     map[string]any    // globals set by extensions (SetVariable), applied at load

	dss   []*datasource.DataSource
	coll  *ebpf.Collection
	links map[string]link.Link // program name → its link (iterators are opened through it)
	dumps []*mapDump           // the map iterators' state (snapshot.go)
	// dumpFallback makes map dumps read key by key, as without batch operations (tests).
	dumpFallback bool

	unreferenced map[*datasource.DataSource]bool
	onClose      []func()                // run after PostStop (or a failed Start): e.g. closing the WASM instance
	discardMntns func(mntns uint64) bool // set by ContainerHooks; read by the WASM host
	// containerCache is set by ContainerHooks; the WASM host's containers data source watches it.
	containerCache *containers.Cache
	// rootsMu guards uroots: the selected containers' roots and the uprobe links attached in
	// them (uprobe_roots.go).
	rootsMu sync.Mutex
	uroots  uprobeRoots

	streams []*stream
	// wake receives the wake-ups of rings whose records wake readers (ringwaker.go); nil when
	// no ring has a waker.
	wake   chan struct{}
	stopCh chan struct{}
	// onStopRequest run when the run is asked to stop (OnStopRequest); under mu.
	onStopRequest []func()
	stopped       sync.Once
	done          chan struct{}
	err           error

	mu           sync.Mutex
	summary      Summary
	skippedProgs []skippedProgram
}

// Summary is what a run saw.
type Summary struct {
	// DataSources holds per data source counts.
	DataSources map[string]*Counts `json:"dataSources"`
	// SkippedPrograms are optional programs the kernel could not run, with the reason.
	SkippedPrograms []string `json:"skippedPrograms,omitempty"`
	// Choices are the values chosen for the parameters that choose between alternative
	// programs (gadget.yaml programs.<p>.alternative), e.g. {"mechanism": "kill"}.
	Choices map[string]string `json:"choices,omitempty"`
}

// Counts are one data source's record counts.
type Counts struct {
	// Events were read from the kernel.
	Events uint64 `json:"events"`
	// Lost records could not be written by the kernel side (ring buffer or perf buffer full).
	Lost uint64 `json:"lost"`
	// Dropped records were dropped by a subscriber (e.g. a WASM guest).
	Dropped uint64 `json:"dropped"`
	// Unread records were still in the kernel ring when the run's last drain ended (it is
	// bounded in time: a consumer slower than the kernel cannot hold up a stop). They were
	// read and counted, not delivered.
	Unread uint64 `json:"unread"`
}

// Gadget returns the gadget being run.
func (r *Run) Gadget() *Gadget { return r.g }

// DataSources returns the run's data sources.
func (r *Run) DataSources() []*datasource.DataSource { return r.dss }

// DataSource returns the data source called name, or nil.
func (r *Run) DataSource(name string) *datasource.DataSource {
	for _, ds := range r.dss {
		if ds.Name == name {
			return ds
		}
	}
	return nil
}

// NewDataSource creates a data source that is not fed by the kernel (a WASM guest's or an
// enricher's). Only during Init.
func (r *Run) NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error) {
	if r.DataSource(name) != nil {
		return nil, fmt.Errorf("gadget %s: data source %q already exists", r.g.Name, name)
	}
	if r.coll != nil {
		return nil, fmt.Errorf("gadget %s: data source %q: data sources can only be created before the gadget starts", r.g.Name, name)
	}
	ds := datasource.New(name, typ, 0)
	r.dss = append(r.dss, ds)
	return ds, nil
}

// Unreference marks ds as not needed downstream: output skips it (a WASM guest that turns a
// raw data source into another one calls it).
func (r *Run) Unreference(ds *datasource.DataSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreferenced == nil {
		r.unreferenced = map[*datasource.DataSource]bool{}
	}
	r.unreferenced[ds] = true
}

// IsReferenced reports whether ds is still wanted downstream (not Unreference'd).
func (r *Run) IsReferenced(ds *datasource.DataSource) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.unreferenced[ds]
}

// ShouldDiscardMntnsID reports whether the run's container selection filters out events of a
// mount namespace (false when no selection is set).
func (r *Run) ShouldDiscardMntnsID(mntns uint64) bool {
	r.mu.Lock()
	fn := r.discardMntns
	r.mu.Unlock()
	return fn != nil && fn(mntns)
}

// Map returns a loaded map by name (nil before the collection is loaded or when absent).
func (r *Run) Map(name string) *ebpf.Map {
	if r.coll == nil {
		return nil
	}
	return r.coll.Maps[name]
}

// Collection returns the loaded collection (nil before load).
func (r *Run) Collection() *ebpf.Collection { return r.coll }

// ParamValue returns the value of the parameter with key: the user's, else its default.
func (r *Run) ParamValue(key string) (string, bool) {
	if v, ok := r.params[key]; ok {
		return v, true
	}
	if p := r.g.Param(key); p != nil {
		return p.Default, true
	}
	return "", false
}

// SetConfig changes the run's configuration before the collection is loaded (during Init or
// PreStart). Keys: a parameter key, or "programs.<name>.attach_to".
func (r *Run) SetConfig(key, value string) error {
	if r.coll != nil {
		return fmt.Errorf("gadget %s: config %s: too late, the gadget is loaded (set config in gadgetInit or gadgetPreStart)", r.g.Name, key)
	}
	if rest, ok := strings.CutPrefix(key, "programs."); ok {
		prog, field, ok := strings.Cut(rest, ".")
		if !ok || field != "attach_to" {
			return fmt.Errorf("gadget %s: config %s: unknown key (want programs.<name>.attach_to)", r.g.Name, key)
		}
		if r.g.Program(prog) == nil {
			return fmt.Errorf("gadget %s: config %s: no program %q", r.g.Name, key, prog)
		}
		r.attachTo[prog] = value
		return nil
	}
	if err := r.g.Validate(key, value); err != nil {
		return err
	}
	r.params[key] = value
	return nil
}

// SetVariable sets a global variable of the eBPF object before it is loaded (during Init or
// PreStart), e.g. container enrichment turning on `gadget_filter_by_mntns`. v must have the
// variable's size (bool, uint32, ...).
func (r *Run) SetVariable(name string, v any) error {
	if r.coll != nil {
		return fmt.Errorf("gadget %s: variable %s: too late, the gadget is loaded (set it in Init or PreStart)", r.g.Name, name)
	}
	if _, ok := r.g.spec.Variables[name]; !ok {
		return fmt.Errorf("gadget %s: the eBPF object has no global variable %s", r.g.Name, name)
	}
	r.vars[name] = v
	return nil
}

// Start runs the sequence up to streaming: hooks Init, PreStart, load, hooks Start, attach,
// stream. On error everything done so far is undone (nothing stays in the kernel).
func (rt *Runtime) Start(ctx context.Context, g *Gadget, opts RunOptions) (_ *Run, err error) {
	r := &Run{rt: rt, g: g, opts: opts, params: map[string]string{}, attachTo: map[string]string{},
		vars: map[string]any{}, stopCh: make(chan struct{}), done: make(chan struct{})}
	r.summary.DataSources = map[string]*Counts{}
	for k, v := range opts.Params {
		if err := g.Validate(k, v); err != nil {
			return nil, err
		}
		r.params[k] = v
	}
	if r.dss, err = g.NewDataSources(); err != nil {
		return nil, err
	}
	hooks := opts.Hooks
	if len(g.Image.WASM) > 0 {
		if rt.opts.WASM == nil {
			return nil, fmt.Errorf("gadget %s has a WASM module but this runtime has no WASM engine (runtime.Options.WASM)", g.Name)
		}
		// The guest runs first at each step: it shapes the data sources others subscribe to.
		hooks = append([]Hooks{rt.wasmHooks(ctx, g)}, hooks...)
	}
	r.opts.Hooks = hooks
	defer func() {
		if err != nil {
			r.teardown(false)
		}
	}()
	// --- Extension point: Init (WASM gadgetInit, enrichment and output subscribe here).
	if err := r.callHooks("init", func(h Hooks) func(*Run) error { return h.Init }); err != nil {
		return nil, err
	}
	// --- Extension point: PreStart (WASM gadgetPreStart may SetConfig params and attach_to).
	if err := r.callHooks("pre-start", func(h Hooks) func(*Run) error { return h.PreStart }); err != nil {
		return nil, err
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	// --- Extension point: Start (WASM gadgetStart, container filter map): before attaching.
	if err := r.callHooks("start", func(h Hooks) func(*Run) error { return h.Start }); err != nil {
		return nil, err
	}
	if err := r.openStreams(); err != nil {
		return nil, err
	}
	if err := r.openDumps(); err != nil {
		return nil, err
	}
	if err := r.attachAll(); err != nil {
		return nil, err
	}
	r.warnSkipped()
	r.warnGPUBridge()
	go r.loop(ctx)
	return r, nil
}

// gadgetErr names the gadget and what failed before err, unless err already starts by naming
// the gadget (the WASM host's errors name the gadget and the hook or callback themselves).
func (r *Run) gadgetErr(err error, what string) error {
	if strings.HasPrefix(err.Error(), "gadget "+r.g.Name+": ") {
		return err
	}
	return fmt.Errorf("gadget %s: %s: %w", r.g.Name, what, err)
}

func (r *Run) callHooks(step string, pick func(Hooks) func(*Run) error) error {
	for _, h := range r.opts.Hooks {
		if fn := pick(h); fn != nil {
			if err := fn(r); err != nil {
				return r.gadgetErr(err, h.Name+" "+step)
			}
		}
	}
	return nil
}

// load copies the cached spec, applies params and attach targets, and loads it. Optional
// programs the kernel refuses are dropped (with a warning) and the load is retried.
func (r *Run) load() error {
	// Missing privileges are said once, up front, not as the first program's failure.
	if err := r.g.CheckPrivileges(r.opts.Params); err != nil {
		return err
	}
	// Before anything reaches the kernel: without kernel BTF, the image's btfgen types or a
	// clear error.
	kernelTypes, err := r.rt.kernelTypes(r.g)
	if err != nil {
		return err
	}
	spec := r.g.spec.Copy()
	for _, p := range r.g.Params {
		if p.Source == ParamWASM || p.Source == ParamRuntime {
			continue
		}
		v, ok := r.params[p.Key]
		if !ok {
			if p.Source == ParamFilter {
				continue
			}
			v = p.Default
		}
		b, err := p.encode(v)
		if err != nil {
			return fmt.Errorf("gadget %s: --%s: %w", r.g.Name, p.Key, err)
		}
		vs := spec.Variables[p.Variable]
		if vs == nil || !vs.Constant() && vs.SectionName != ".rodata" && !strings.HasPrefix(vs.SectionName, ".rodata") {
			return fmt.Errorf("gadget %s: param %s: variable %s is not a const volatile global; declare it `const volatile`", r.g.Name, p.Key, p.Variable)
		}
		copy(vs.Value, b)
	}
	for name, v := range r.vars {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("gadget %s: setting variable %s: %w", r.g.Name, name, err)
		}
	}
	if err := noRingWakeup(spec); err != nil { // this runtime drains on a timer (ringwake.go)
		return fmt.Errorf("gadget %s: %w", r.g.Name, err)
	}
	// IG's conventions: maps sized from <map>_max_entries, maps pinned by name (ig_load.go).
	opts := ebpf.CollectionOptions{Cache: r.rt.kernelBTF(), Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes}}
	if err := r.g.prepareLoad(spec, &opts); err != nil {
		return err
	}
	// Alternatives first: which of them run decides what is loaded.
	if err := r.choose(spec); err != nil {
		return err
	}
	for _, p := range r.g.Programs {
		ps := spec.Programs[p.Name]
		if !r.enabled(p) {
			delete(spec.Programs, p.Name)
			continue
		}
		if p.Kind.NeedsTargetAtLoad() {
			ps.AttachTo = r.target(p)
		}
		if err := r.rt.probeLoad(p.Kind, ps); err != nil {
			if !p.Optional {
				return r.lacksErr(p, "cannot run here", err)
			}
			r.skip(p, err)
			delete(spec.Programs, p.Name)
		}
	}
	for {
		coll, err := ebpf.NewCollectionWithOptions(spec, opts)
		if err == nil {
			r.coll = coll
			return r.startSockets()
		}
		p := r.failedProgram(err)
		if p == nil {
			return fmt.Errorf("gadget %s: loading the eBPF object: %w", r.g.Name, err)
		}
		if !attach.LacksKernelSupport(err) {
			cause := err // the library's "program NAME: " would name the program twice
			if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), "program "+p.Name+": ") {
				cause = u
			}
			return fmt.Errorf("gadget %s: program %s (%s) failed to load: %w%s", r.g.Name, p.Name, p.Section, cause, isaHint(err, spec.Programs[p.Name]))
		}
		if !p.Optional {
			return r.lacksErr(p, "cannot run here", err)
		}
		r.skip(p, err)
		delete(spec.Programs, p.Name)
	}
}

// target is where p attaches: an attach_to set at run time, else gadget.yaml's or its section's.
func (r *Run) target(p *Program) string {
	if t, ok := r.attachTo[p.Name]; ok {
		return t
	}
	return p.Target
}

// enabled decides whether a program is loaded and attached: an alternative the run did not
// choose never is; an attach_to set at run time (SetConfig, e.g. by the WASM guest's
// gadgetPreStart) wins over gadget.yaml; otherwise gadget.yaml's attach_to:
// gadget_program_disabled and enabled_if decide.
func (r *Run) enabled(p *Program) bool {
	if !r.chosen(p) {
		return false
	}
	if t, ok := r.attachTo[p.Name]; ok {
		return t != metadata.DisabledProgram
	}
	if p.Disabled {
		return false
	}
	if c := p.EnabledIf; c != nil {
		v, _ := r.ParamValue(c.Param)
		if param := r.g.Param(c.Param); param != nil && param.Kind == datasource.KindBool {
			// Bool params compare by value: "false", "0" and "f" are the same.
			got, err1 := strconv.ParseBool(v)
			want, err2 := strconv.ParseBool(c.Value)
			if err1 == nil && err2 == nil {
				return (got == want) != c.Negate
			}
		}
		return c.Holds(v)
	}
	return true
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func (r *Run) lacksErr(p *Program, what string, err error) error {
	return fmt.Errorf("gadget %s: program %s (%s) %s: the kernel lacks %s (%v); mark it `programs.%s.optional: true` in gadget.yaml to run without it",
		r.g.Name, p.Name, p.Section, what, p.Kind.FeatureOf(r.target(p)), rootCause(err), p.Name)
}

// failedProgram finds which program a collection load error is about.
func (r *Run) failedProgram(err error) *Program {
	msg := err.Error()
	for _, p := range r.g.Programs {
		if strings.Contains(msg, "program "+p.Name+":") {
			return p
		}
	}
	return nil
}

func (r *Run) skip(p *Program, err error) {
	feature := p.Kind.FeatureOf(r.target(p))
	msg := fmt.Sprintf("%s (%s): the kernel lacks %s: %v", p.Name, p.Section, feature, rootCause(err))
	r.mu.Lock()
	r.summary.SkippedPrograms = append(r.summary.SkippedPrograms, msg)
	r.skippedProgs = append(r.skippedProgs, skippedProgram{p, feature})
	r.mu.Unlock()
}

type skippedProgram struct {
	p       *Program
	feature string
}

// warnSkipped warns once per hook (attach target) whose optional programs were all skipped,
// naming the hook, what the kernel lacks for each way of attaching to it, and the fields left
// unfed. A hook that one of its programs did attach to needs no warning: a gadget offering
// fentry and kprobe variants of one hook works on kernels that have either.
func (r *Run) warnSkipped() {
	r.mu.Lock()
	skipped := r.skippedProgs
	r.mu.Unlock()
	byTarget := map[string][]skippedProgram{}
	skippedNames := map[string]bool{}
	var order []string
	for _, s := range skipped {
		skippedNames[s.p.Name] = true
		if byTarget[s.p.Target] == nil {
			order = append(order, s.p.Target)
		}
		byTarget[s.p.Target] = append(byTarget[s.p.Target], s)
	}
	for _, target := range order {
		attached := false
		for _, p := range r.g.Programs {
			// Loaded and not skipped at attach (a kprobe loads where kprobes are absent).
			if p.Target == target && r.coll.Programs[p.Name] != nil && !skippedNames[p.Name] {
				attached = true
			}
		}
		if attached {
			continue
		}
		var how, fields []string
		for _, s := range byTarget[target] {
			how = append(how, fmt.Sprintf("%s needs %s", s.p.Name, s.feature))
			fields = append(fields, s.p.Affects...)
		}
		slices.Sort(fields)
		msg := fmt.Sprintf("gadget %s: hook %s is unavailable on this kernel (%s)", r.g.Name, target, strings.Join(how, ", "))
		if fields = slices.Compact(fields); len(fields) > 0 {
			msg += "; unknown: " + strings.Join(fields, ", ")
		}
		r.rt.log.Warn(msg)
	}
}

func (r *Run) attachAll() error {
	var missing []missingUprobe
	for _, p := range r.g.Programs {
		prog := r.coll.Programs[p.Name]
		if prog == nil {
			continue // disabled or skipped at load
		}
		target := r.target(p)
		opts := r.attachOptions(p)
		l, err := attach.AttachWith(p.Kind, target, prog, opts)
		if u, ok := l.(*attach.UprobeLink); ok && err == nil {
			r.trackUprobe(p.Name, u, len(opts.Roots))
			if me := (*attach.MissingSymbolError)(nil); errors.As(u.HostErr(), &me) {
				// Not on the host, but kept for the containers that have it.
				missing = append(missing, missingUprobe{p, me, u})
			}
		}
		if me := (*attach.MissingSymbolError)(nil); errors.As(err, &me) {
			// Inspektor Gadget runs a gadget without a uprobe whose symbol the library
			// lacks; warnMissing says so once per library.
			missing = append(missing, missingUprobe{p, me, nil})
			prog.Close()
			delete(r.coll.Programs, p.Name)
			continue
		}
		if err != nil {
			if attach.LacksKernelSupport(err) {
				if p.Optional {
					r.skip(p, err)
					// Loaded but never to run (a kprobe program loads where kprobes are
					// absent): unload it now rather than hold it until the run ends.
					prog.Close()
					delete(r.coll.Programs, p.Name)
					continue
				}
				return r.lacksErr(p, "cannot attach", err)
			}
			return fmt.Errorf("gadget %s: program %s: attaching to %s %q: %w", r.g.Name, p.Name, p.Kind, target, err)
		}
		if r.links == nil {
			r.links = map[string]link.Link{}
		}
		r.links[p.Name] = l
	}
	if err := r.gpuMissingErr(missing); err != nil {
		return err
	}
	if len(missing) > 0 && len(r.links) == 0 {
		var each []string
		for _, m := range missing { // none kept: a kept one is in r.links
			each = append(each, fmt.Sprintf("%s (%v)", m.p.Name, m.err))
		}
		return fmt.Errorf("gadget %s: no program attached: %s", r.g.Name, strings.Join(each, "; "))
	}
	r.warnMissing(missing)
	return nil
}

// Stop ends the run (any number of times, from any goroutine) and waits for it to finish.
func (r *Run) Stop() error {
	r.requestStop()
	<-r.done
	return r.err
}

// requestStop asks the run to stop, once: the stream goroutine sees it between two batches,
// and the functions of OnStopRequest run (a WASM guest's callback that does not return is
// interrupted).
func (r *Run) requestStop() {
	r.stopped.Do(func() {
		close(r.stopCh)
		r.mu.Lock()
		fns := r.onStopRequest
		r.mu.Unlock()
		for _, fn := range fns {
			fn()
		}
	})
}

// OnStopRequest registers fn to run, from whichever goroutine asks, when the run is asked to
// stop (Stop, the timeout, the Start context's end). fn must not block.
func (r *Run) OnStopRequest(fn func()) {
	r.mu.Lock()
	r.onStopRequest = append(r.onStopRequest, fn)
	r.mu.Unlock()
}

// Wait waits until the run ends: timeout, Stop, or the Start context's end.
func (r *Run) Wait() error {
	<-r.done
	return r.err
}

// Done is closed when the run has ended and everything is released.
func (r *Run) Done() <-chan struct{} { return r.done }

// Summary returns the counts so far (final after Wait returns).
func (r *Run) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{DataSources: map[string]*Counts{}, SkippedPrograms: append([]string(nil), r.summary.SkippedPrograms...)}
	if r.summary.Choices != nil {
		s.Choices = maps.Clone(r.summary.Choices)
	}
	for k, v := range r.summary.DataSources {
		c := *v
		s.DataSources[k] = &c
	}
	return s
}

// teardown runs the stop half of the sequence. started says whether Start completed (then the
// Stop and PostStop hooks run).
func (r *Run) teardown(started bool) {
	var errs []error
	if started {
		// --- Extension point: Stop (WASM gadgetStop), before detaching.
		if err := r.callHooks("stop", func(h Hooks) func(*Run) error { return h.Stop }); err != nil {
			errs = append(errs, err)
		}
	}
	// Detach in parallel: closing a perf-event link waits for an RCU grace period, and the
	// waits overlap instead of adding up.
	detachErrs := make([]error, len(r.links))
	var wg sync.WaitGroup
	i := 0
	for name, l := range r.links {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := l.Close(); err != nil {
				detachErrs[i] = fmt.Errorf("detaching %s: %w", name, err)
			}
		}(i)
		i++
	}
	wg.Wait()
	errs = append(errs, detachErrs...)
	r.links = nil
	if started {
		_, _ = r.drainFinal() // the records written before detaching
		r.discard()
		r.checkLost()
		// The maps' last dump: what happened since the previous one, up to detaching.
		if err := r.dumpMaps(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range r.streams {
		s.close()
	}
	r.streams = nil
	if started {
		// --- Extension point: PostStop (WASM gadgetPostStop), after the last records.
		if err := r.callHooks("post-stop", func(h Hooks) func(*Run) error { return h.PostStop }); err != nil {
			errs = append(errs, err)
		}
	}
	if r.coll != nil {
		r.coll.Close()
	}
	for _, fn := range r.onClose {
		fn()
	}
	r.onClose = nil
	if r.err == nil {
		r.err = errors.Join(errs...)
	}
}

// isaHint is what a verifier's rejection of ps for an out-of-bounds access adds when ps has no
// 32-bit jump, so was compiled for BPF ISA v1 or v2 (clang's default): there clang 19 may check
// an index's bound on a zero-extended copy and index with the original narrowed by a mask,
// which the verifier cannot relate to the check (Inspektor Gadget's advise_seccomp, built
// with clang 19). Built for v3 the check and the access share a register.
func isaHint(err error, ps *ebpf.ProgramSpec) string {
	var ve *ebpf.VerifierError
	if ps == nil || !errors.As(err, &ve) || usesJump32(ps.Instructions) {
		return ""
	}
	msg := err.Error()
	for _, bound := range []string{"invalid access to", "unbounded memory access", "min value is", "outside of the allowed memory range", "invalid variable-offset"} {
		if strings.Contains(msg, bound) {
			return "; the object was compiled for BPF ISA v1 or v2 (clang's default), where clang 19 may check an index's bound in one register and use it from another the verifier cannot relate to the check: if the source checks this bound, add `cflags: -mcpu=v3` to build.yaml and build the image again (docs/authoring.md)"
		}
	}
	return ""
}

// usesJump32 reports whether insns has a 32-bit jump (BPF ISA v3: clang -mcpu=v3).
func usesJump32(insns asm.Instructions) bool {
	for _, ins := range insns {
		if ins.OpCode.Class() == asm.Jump32Class {
			return true
		}
	}
	return false
}
