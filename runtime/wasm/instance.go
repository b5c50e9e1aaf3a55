package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// Phase is where an instance is in the gadget lifecycle.
type Phase int

// Phases, in order. A hook moves the instance to its phase.
const (
	PhaseNew Phase = iota
	PhaseInit
	PhasePreStart
	PhaseStart
	PhaseStop
	PhasePostStop
)

var phaseHooks = [...]string{"instantiate", "gadgetInit", "gadgetPreStart", "gadgetStart", "gadgetStop", "gadgetPostStop"}

// Stats counts what an instance did.
type Stats struct {
	// Callbacks is the number of data callbacks run.
	Callbacks uint64
	// Dropped is the number of events a callback dropped.
	Dropped uint64
	// HostErrors is the number of host calls that failed because of the guest's arguments.
	HostErrors uint64
}

// Instance is one instantiation of a gadget module, for one run.
type Instance struct {
	name string
	env  Env
	log  *slog.Logger
	eng  *Engine
	mod  api.Module

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mem         *guestMemory // the guest's linear memory, which enforces its limit
	memLimitMiB uint32
	// hookTimeout and callbackTimeout bound each lifecycle hook and each data callback (the
	// engine's options; tests shorten them for the one call they expect to hang).
	hookTimeout, callbackTimeout time.Duration

	// mu serializes guest calls: the guest has one thread.
	mu          sync.Mutex
	phase       Phase
	failed      error
	closed      bool
	h           handles
	objects     map[any]uint32 // stable handles of data sources and fields
	pending     []pendingEmit
	lastErr     string
	lastHostErr string
	inPhase     bool     // a lifecycle hook (gadgetInit...) is running
	heldErrs    []string // error-level guest logs of that hook, printed unless its error quotes them
	callback    api.Function
	dropping    bool // callback returns a drop flag
	// batchFn is the guest's batch export (fieldcopy.go), nil when it has none; batches are
	// the accepted version 2 field copies by data source handle.
	batchFn api.Function
	batches fieldCopies
	// cfeed is the containers data source, once the guest asked for it (containers.go).
	cfeed *containerFeed
	// sdk is the version of Gadgetry's SDK the guest announced (setConfig "gadgetry.sdk",
	// SDK v0.5.0 on); empty for IG's SDK, a raw module and Gadgetry's SDK before v0.5.0.
	sdk string
	// legacyFC: the guest is Gadgetry's SDK before v0.5.0 (its dataSourceCallback has a
	// result, or it asked for a field copy without announcing an SDK version): its cstrings
	// are read up to the first NUL (fieldBytes).
	legacyFC bool
	// bhs and bds are one batch call's record handles and records (reused).
	bhs []uint32
	bds []*datasource.Data
	// guestTime and guestRecords add up the data callbacks' time and records, for the
	// slow-guest warning (slowWarned once it was given).
	guestTime    time.Duration
	guestRecords uint64
	slowWarned   bool
	stack        [4]uint64
	temps        []uint32

	// watchdog state
	seq     atomic.Uint64 // odd while a guest call runs
	limit   atomic.Int64
	curHook string // the running hook (read under mu)
	// inCallback: the running call is a data callback; stopAt: when the run was asked to
	// stop (unix ns, 0 before), after which a data callback gets StopGrace (Interrupt).
	inCallback atomic.Bool
	stopAt     atomic.Int64
	grace      atomic.Int64
	hurry      chan struct{}

	callbacks, dropped, hostErrors atomic.Uint64
}

type pendingEmit struct {
	ds    *datasource.DataSource
	data  *datasource.Data
	array []*datasource.Data
}

type instKey struct{}

// Instantiate makes an instance of module (compiled once per digest) for the gadget called
// name, bound to env. The guest's _initialize runs; gadgetAPIVersion must return 1.
func (e *Engine) Instantiate(ctx context.Context, name string, module []byte, digest string, env Env) (*Instance, error) {
	compiled, err := e.Compile(ctx, module, digest)
	if err != nil {
		return nil, fmt.Errorf("gadget %s: %w", name, err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("gadget", name)
	limit := e.opts.MemoryLimitMiB
	if env.MemoryLimitMiB != 0 {
		limit = env.MemoryLimitMiB
	}
	if err := checkMemoryLimit(limit); err != nil {
		return nil, fmt.Errorf("gadget %s: %w", name, err)
	}
	inst := &Instance{name: name, env: env, log: log, eng: e, objects: map[any]uint32{}, done: make(chan struct{}), hurry: make(chan struct{}, 1),
		mem: newGuestMemory(limit), memLimitMiB: limit, hookTimeout: e.opts.HookTimeout, callbackTimeout: e.opts.CallbackTimeout}
	inst.curHook = "instantiate"
	base := context.WithValue(context.Background(), instKey{}, inst)
	inst.ctx, inst.cancel = context.WithCancelCause(base)
	go inst.watchdog(min(max(min(inst.hookTimeout, inst.callbackTimeout)/4, 5*time.Millisecond), time.Second))

	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(&lineLogger{inst: inst, level: slog.LevelInfo, stream: "stdout"}).
		WithStderr(&lineLogger{inst: inst, level: slog.LevelWarn, stream: "stderr"}).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	inst.mu.Lock()
	inst.begin("instantiate", inst.hookTimeout)
	mod, err := e.runtime.InstantiateModule(experimental.WithMemoryAllocator(inst.ctx, inst.mem), compiled, cfg)
	inst.end()
	if err == nil && inst.mem.refused != 0 {
		// Over the limit at start-up: its initial memory (which the allocator cannot refuse)
		// or a grow in _initialize that the guest survived.
		err = inst.limitError()
		inst.failed = err
		mod.Close(context.Background())
	} else if err != nil {
		err = inst.callError("instantiate", err)
	}
	inst.mu.Unlock()
	if err != nil {
		inst.Close()
		return nil, err
	}
	inst.mod = mod
	v := mod.ExportedFunction("gadgetAPIVersion")
	inst.mu.Lock()
	inst.begin("gadgetAPIVersion", inst.hookTimeout)
	res, err := v.Call(inst.ctx)
	inst.end()
	inst.mu.Unlock()
	if err != nil {
		err = inst.callError("gadgetAPIVersion", err)
		inst.Close()
		return nil, err
	}
	if len(res) != 1 || res[0] != 1 {
		inst.Close()
		return nil, fmt.Errorf("gadget %s: wasm module speaks ABI version %v, this host speaks 1", name, res)
	}
	if cb := mod.ExportedFunction("dataSourceCallback"); cb != nil {
		inst.callback = cb
		inst.dropping = len(cb.Definition().ResultTypes()) == 1
		// A callback with a result (the drop flag) is Gadgetry's SDK: before v0.5.0 it did
		// not announce itself, and its String returns what fieldGetBuffer gives as is, so it
		// gets the text of a char[N] field, as it always did. IG's callbacks have no result.
		// An announcement (SDK v0.5.0 on) clears this.
		inst.legacyFC = inst.dropping
	}
	if fn := mod.ExportedFunction(batchExport); fn != nil && sameTypes(fn.Definition().ParamTypes(), api.ValueTypeI64, api.ValueTypeI32, api.ValueTypeI32) &&
		sameTypes(fn.Definition().ResultTypes(), api.ValueTypeI32) {
		inst.batchFn = fn
	}
	if mod.ExportedFunction("asyncify_get_state") != nil {
		log.Warn(fmt.Sprintf("gadget %s: its wasm module was built with TinyGo's asyncify scheduler: every call into it allocates a fresh stack and costs milliseconds; rebuild it with -scheduler=none (gadgetry image build does)", name))
	}
	return inst, nil
}

// sameTypes reports whether ts is want.
func sameTypes(ts []api.ValueType, want ...api.ValueType) bool {
	return string(ts) == string(want)
}

// Name returns the gadget's name.
func (i *Instance) Name() string { return i.name }

// Stats returns the instance's counters.
func (i *Instance) Stats() Stats {
	return Stats{Callbacks: i.callbacks.Load(), Dropped: i.dropped.Load(), HostErrors: i.hostErrors.Load()}
}

// Init runs gadgetInit: the guest subscribes, adds fields, creates data sources.
func (i *Instance) Init() error { return i.runHook(PhaseInit) }

// PreStart runs gadgetPreStart, before the eBPF collection is loaded.
func (i *Instance) PreStart() error { return i.runHook(PhasePreStart) }

// Start runs gadgetStart, after the collection is loaded and before programs attach. Then,
// when the guest subscribed to the containers data source, its events begin: the containers
// present, then those that start or go away.
func (i *Instance) Start() error {
	if err := i.runHook(PhaseStart); err != nil {
		return err
	}
	i.startContainers()
	return nil
}

// Stop ends the containers data source's events and runs gadgetStop, before programs detach.
func (i *Instance) Stop() error {
	i.stopContainers()
	return i.runHook(PhaseStop)
}

// PostStop runs gadgetPostStop, after programs detached.
func (i *Instance) PostStop() error { return i.runHook(PhasePostStop) }

func (i *Instance) runHook(p Phase) error {
	hook := phaseHooks[p]
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return fmt.Errorf("gadget %s: wasm %s: instance closed", i.name, hook)
	}
	if i.failed != nil {
		i.mu.Unlock()
		return fmt.Errorf("gadget %s: wasm %s not run: %w", i.name, hook, i.failed)
	}
	if p != i.phase+1 {
		cur := i.phase
		i.mu.Unlock()
		return fmt.Errorf("gadget %s: wasm %s called after %s: hooks run in the order gadgetInit, gadgetPreStart, gadgetStart, gadgetStop, gadgetPostStop", i.name, hook, phaseHooks[cur])
	}
	i.phase = p
	fn := i.mod.ExportedFunction(hook)
	var err error
	if fn != nil {
		i.lastErr, i.lastHostErr = "", ""
		i.inPhase, i.heldErrs = true, nil
		i.begin(hook, i.hookTimeout)
		err = fn.CallWithStack(i.ctx, i.stack[:])
		i.end()
		i.inPhase = false
		i.releaseTemps()
		if err != nil {
			err = i.callError(hook, err)
		} else if len(fn.Definition().ResultTypes()) == 1 && int32(i.stack[0]) != 0 && i.mem.refused != 0 {
			// The guest saw its memory.grow fail and gave up: that is why.
			err = i.callError(hook, errors.New("returned an error"))
		} else if len(fn.Definition().ResultTypes()) == 1 && int32(i.stack[0]) != 0 {
			msg := i.lastErr
			if msg == "" {
				msg = "the guest logged no error"
			}
			if i.lastHostErr != "" {
				msg += " (last failed host call: " + i.lastHostErr + ")"
			}
			err = fmt.Errorf("gadget %s: wasm %s returned %d: %s", i.name, hook, int32(i.stack[0]), msg)
		} else {
			i.survivedRefusal(hook)
		}
		// The guest's error logs of this hook: the one the returned error quotes is not
		// printed twice.
		for _, m := range i.heldErrs {
			if err == nil || m != i.lastErr {
				i.log.Error(m, "hook", hook)
			}
		}
		i.heldErrs = nil
	}
	pending := i.takePending()
	i.mu.Unlock()
	i.flush(pending)
	return err
}

// callError turns a failed guest call into an error naming the gadget and hook; the instance
// is unusable afterwards.
func (i *Instance) callError(hook string, err error) error {
	if i.mem.refused != 0 {
		// The guest's memory.grow past its limit was refused during this call: whatever it
		// did then (a Go guest throws "out of memory"), that is the cause.
		// Debug only: the error says it all, and the caller shows it.
		e := i.limitError()
		i.failed = e
		i.log.Debug("wasm guest failed", "hook", hook, "error", fmt.Sprintf("its memory.grow to %d MiB was refused (limit %d MiB)", i.mem.refused>>20, i.memLimitMiB), "trace", err.Error())
		return e
	}
	var exit *sys.ExitError
	var why string
	switch {
	case i.ctx.Err() != nil && context.Cause(i.ctx) != nil:
		why = context.Cause(i.ctx).Error()
	case errors.As(err, &exit):
		why = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	default:
		first, _, _ := strings.Cut(err.Error(), "\n")
		why = "trapped (" + first + ")"
		i.log.Debug("wasm trap", "hook", hook, "trace", err.Error())
	}
	if i.lastErr != "" {
		why += ": " + i.lastErr
	}
	if i.mem.err != nil {
		why += " (" + i.mem.err.Error() + ")"
	}
	e := fmt.Errorf("gadget %s: wasm %s failed: %s", i.name, hook, why)
	i.failed = e
	i.log.Error("wasm guest failed", "hook", hook, "error", why)
	return e
}

// survivedRefusal handles a call that succeeded although its memory.grow past the limit was
// refused (a guest that handles a failed allocation): a warning, and the instance goes on.
func (i *Instance) survivedRefusal(hook string) {
	if i.mem.refused == 0 {
		return
	}
	i.log.Warn("wasm guest memory limit", "hook", hook, "reason", fmt.Sprintf("its memory.grow to %d MiB was refused (limit %d MiB, --wasm-memory-limit); it carried on", i.mem.refused>>20, i.memLimitMiB))
	i.mem.refused = 0
}

// begin and end bracket a guest call for the watchdog; mu is held.
func (i *Instance) begin(hook string, limit time.Duration) {
	i.curHook = hook
	i.limit.Store(int64(limit))
	i.inCallback.Store(hook == "dataSourceCallback")
	i.seq.Add(1)
}

// StopGrace is how long, and how much CPU, a data callback may still use once the run was
// asked to stop (Interrupt): a guest that loops does not hold up the stop longer.
const StopGrace = 500 * time.Millisecond

// Interrupt says the run was asked to stop: from grace on, a data callback that has used
// grace of CPU since it was first seen is killed, and the run ends with an error naming the
// guest. Counting CPU, not only time, keeps a slow guest that a loaded machine holds up from
// being taken for one that loops. Lifecycle hooks (gadgetStop...) keep their own limit.
// Interrupt does not block; it may be called from any goroutine, more than once.
func (i *Instance) Interrupt(grace time.Duration) {
	i.grace.Store(int64(grace))
	if !i.stopAt.CompareAndSwap(0, time.Now().Add(grace).UnixNano()) {
		return
	}
	select {
	case i.hurry <- struct{}{}:
	default:
	}
}

func (i *Instance) end() { i.seq.Add(1) }

// watchdog kills the guest when one call runs longer than its limit, checking every tick.
func (i *Instance) watchdog(tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var last uint64
	var since time.Time
	var sinceCPU time.Duration // the process's CPU time at since, once stopping
	for {
		select {
		case <-i.done:
			return
		case <-i.hurry:
			// Stopping: look often enough to honour StopGrace.
			t.Reset(min(tick, 25*time.Millisecond))
		case now := <-t.C:
			s := i.seq.Load()
			if s%2 == 0 {
				continue
			}
			stopping := i.stopAt.Load() != 0
			var cpu time.Duration
			if stopping {
				cpu = processCPU()
			}
			if s != last {
				last, since, sinceCPU = s, now, cpu
				continue
			}
			if stopping && i.inCallback.Load() {
				// A data callback is killed once the stop request is grace old and the
				// callback has used grace of CPU since it was first seen: a guest that
				// loops is stopped, one that the machine's load merely slows down is not.
				grace := time.Duration(i.grace.Load())
				if sinceCPU == 0 {
					sinceCPU = cpu // first seen before the stop: count from now
				}
				if !now.Before(time.Unix(0, i.stopAt.Load())) && cpu-sinceCPU >= grace {
					i.cancel(fmt.Errorf("still running after the run was asked to stop, %v of CPU later (killed; a data callback must not block or loop)", grace))
					return
				}
			}
			if lim := time.Duration(i.limit.Load()); now.Sub(since) >= lim {
				i.cancel(fmt.Errorf("did not return within %v (killed; a hook or callback must not block or loop)", lim))
				return
			}
		}
	}
}

// subscriber returns the datasource subscriber of one guest subscription.
func (i *Instance) subscriber(ds *datasource.DataSource, dsHandle uint32, cbID uint64) datasource.Subscriber {
	return func(_ *datasource.DataSource, d *datasource.Data) error {
		return i.runCallback(ds, dsHandle, cbID, entry{kind: kData, ds: ds, obj: d})
	}
}

func (i *Instance) arraySubscriber(ds *datasource.DataSource, dsHandle uint32, cbID uint64) datasource.ArraySubscriber {
	return func(_ *datasource.DataSource, arr []*datasource.Data) error {
		return i.runCallback(ds, dsHandle, cbID, entry{kind: kArray, ds: ds, obj: &array{items: arr}})
	}
}

func (i *Instance) runCallback(ds *datasource.DataSource, dsHandle uint32, cbID uint64, e entry) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil
	}
	if i.failed != nil {
		err := i.failed
		i.mu.Unlock()
		return err
	}
	if i.callback == nil {
		i.mu.Unlock()
		return fmt.Errorf("gadget %s: wasm module subscribed to %s but exports no dataSourceCallback", i.name, ds.Name)
	}
	e.temp = true
	h := i.h.add(e)
	i.stack[0], i.stack[1], i.stack[2] = cbID, uint64(dsHandle), uint64(h)
	i.begin("dataSourceCallback", i.callbackTimeout)
	start := time.Now()
	err := i.callback.CallWithStack(i.ctx, i.stack[:])
	i.account(time.Since(start), 1)
	i.end()
	i.h.release(h)
	i.releaseTemps()
	i.callbacks.Add(1)
	drop := false
	if err != nil {
		err = i.callError("dataSourceCallback", err)
	} else {
		i.survivedRefusal("dataSourceCallback")
		if i.dropping && uint32(i.stack[0]) == 1 {
			drop = true
			i.dropped.Add(1)
		}
	}
	var pending []pendingEmit
	if len(i.pending) > 0 {
		pending = i.takePending()
	}
	i.mu.Unlock()
	if pending != nil {
		i.flush(pending)
	}
	if err != nil {
		return err
	}
	if drop {
		return datasource.ErrDrop
	}
	return nil
}

func (i *Instance) releaseTemps() {
	for _, h := range i.temps {
		i.h.release(h)
	}
	i.temps = i.temps[:0]
}

func (i *Instance) takePending() []pendingEmit {
	p := i.pending
	i.pending = nil
	return p
}

// flush emits the packets the guest emitted during a call, after the call returned, so that
// a guest subscribed to its own data source is called back without re-entering.
func (i *Instance) flush(p []pendingEmit) {
	for _, e := range p {
		var err error
		if e.array != nil || e.ds.Type == datasource.TypeArray {
			_, err = e.ds.EmitArray(e.array)
		} else {
			_, err = e.ds.Emit(e.data)
		}
		if err != nil {
			i.log.Warn("emitting the guest's packet", "datasource", e.ds.Name, "reason", err)
		}
	}
}

// Close ends the instance: the guest is closed, the maps it created and its perf readers
// are closed. Events still delivered to its subscriptions pass through untouched.
func (i *Instance) Close() error {
	i.stopContainers() // before mu: an event under way holds the feed and waits for mu
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	close(i.done)
	var errs []error
	for idx := range i.h.ents {
		e := &i.h.ents[idx]
		if !e.owned {
			continue
		}
		if c, ok := e.obj.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	i.h = handles{}
	if i.mod != nil {
		errs = append(errs, i.mod.Close(context.Background()))
	}
	i.cancel(errors.New("instance closed"))
	return errors.Join(errs...)
}

// lineLogger sends the guest's stdout or stderr to the logger, one record per line.
type lineLogger struct {
	inst   *Instance
	level  slog.Level
	stream string
	buf    []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		n := bytes.IndexByte(l.buf, '\n')
		if n < 0 {
			break
		}
		line := string(l.buf[:n])
		l.buf = l.buf[n+1:]
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			l.inst.lastErr = line
		}
		level := l.level
		if l.inst.mem.refused != 0 {
			// What a guest prints once its memory is exhausted (a Go runtime's crash dump) is
			// explained by the limit error: kept for debugging, not shown as warnings.
			level = slog.LevelDebug
		}
		l.inst.log.Log(context.Background(), level, line, "stream", l.stream)
	}
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

var _ io.Writer = (*lineLogger)(nil)

// processCPU returns the CPU time the process has used (user and system). While a guest call
// runs it is most of what the process does, so the watchdog counts the call's CPU with it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
