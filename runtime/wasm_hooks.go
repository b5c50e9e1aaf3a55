package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// wasmHooks runs the image's WASM guest at the sequence's extension points: instantiate and
// gadgetInit at Init, gadgetPreStart at PreStart (before load), gadgetStart at Start (after
// load, before attach), gadgetStop at Stop (after the ring buffers are drained, before detach),
// gadgetPostStop at PostStop; the instance is closed after PostStop, or when a later step of
// Start fails.
func (rt *Runtime) wasmHooks(ctx context.Context, g *Gadget) Hooks {
	var inst *wasm.Instance
	closeInst := func() {
		if inst != nil {
			_ = inst.Close()
			inst = nil
		}
	}
	return Hooks{
		Name: "wasm",
		Init: func(r *Run) error {
			digest := g.Image.ManifestDigest
			if digest == "" {
				digest = g.Image.Digest
			}
			var err error
			inst, err = rt.opts.WASM.Instantiate(ctx, g.Name, g.Image.WASM, digest, wasm.Env{
				Logger:      rt.log,
				DataSources: wasmRun{r},
				Maps:        wasmRun{r},
				Param:       r.ParamValue,
				SetConfig:   r.SetConfig,
				// Resolved per call: ContainerHooks sets the selection after the guest's Init.
				ShouldDiscardMntnsID: r.ShouldDiscardMntnsID,
				MemoryLimitMiB:       r.opts.WASMMemoryLimitMiB,
				Containers:           &wasmContainers{ctx: ctx, r: r, log: rt.log},
			})
			if err != nil {
				return err
			}
			r.onClose = append(r.onClose, closeInst)
			in := inst
			r.OnStopRequest(func() { in.Interrupt(wasm.StopGrace) })
			return inst.Init()
		},
		PreStart: func(*Run) error { return inst.PreStart() },
		Start:    func(*Run) error { return inst.Start() },
		Stop: func(r *Run) error {
			// The guest sees every record written so far before its gadgetStop (a flight
			// recorder replays what it kept there); only the records of the moment between
			// this drain and the detach reach it afterwards.
			if _, err := r.drainWritten(); err != nil {
				return fmt.Errorf("reading the last records before the WASM gadgetStop: %w", err)
			}
			return inst.Stop()
		},
		PostStop: func(*Run) error { return inst.PostStop() },
	}
}

// wasmRun adapts a Run to the WASM host's view of it.
type wasmRun struct{ r *Run }

func (w wasmRun) DataSource(name string) *datasource.DataSource { return w.r.DataSource(name) }

func (w wasmRun) NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error) {
	return w.r.NewDataSource(name, typ)
}

func (w wasmRun) Unreference(ds *datasource.DataSource) error {
	w.r.Unreference(ds)
	return nil
}

func (w wasmRun) IsReferenced(ds *datasource.DataSource) bool { return w.r.IsReferenced(ds) }

func (w wasmRun) Map(name string) (*ebpf.Map, error) {
	m := w.r.Map(name)
	if m == nil {
		if w.r.coll == nil {
			return nil, fmt.Errorf("map %s: the eBPF collection is not loaded yet (use maps from gadgetStart on)", name)
		}
		return nil, fmt.Errorf("the gadget's eBPF object has no map %s", name)
	}
	return m, nil
}

// wasmContainers feeds a guest's containers data source: the containers of this machine that
// the run selects (ShouldDiscardMntnsID: -c, --containers-only, a pod selection), from
// ContainerHooks' cache, or, in a run without it, from a cache of its own (default runtime
// state roots) opened when the guest's subscription starts (after gadgetStart) and closed
// when it ends (before gadgetStop). The host itself is not a container and is never
// announced.
type wasmContainers struct {
	ctx context.Context
	r   *Run
	log *slog.Logger
}

// WatchContainers implements wasm.Containers.
func (w *wasmContainers) WatchContainers(fn func(c wasm.Container, added bool)) ([]wasm.Container, func()) {
	w.r.mu.Lock()
	cache := w.r.containerCache
	w.r.mu.Unlock()
	closeCache := func() {}
	if cache == nil {
		var err error
		cache, err = containers.New(w.ctx, containers.Options{
			Logf: func(format string, args ...any) { w.log.Debug(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			w.log.Warn("the gadget's WASM module subscribed to the containers data source, but containers cannot be watched here: it is told of none", "reason", err)
			return nil, func() {}
		}
		closeCache = func() { _ = cache.Close() }
	}
	selected := func(c *containers.Container) bool {
		return c != nil && !c.Stopped && c.MntNS != 0 && !w.r.ShouldDiscardMntnsID(c.MntNS)
	}
	cur, cancel := cache.Watch(containers.Selector{}, func(ev containers.Event) {
		switch {
		case ev.Type == containers.EventRemove || ev.Container.Stopped:
			fn(wasmContainer(ev.Container), false)
		case selected(ev.Container):
			fn(wasmContainer(ev.Container), true)
		}
	})
	var out []wasm.Container
	for _, c := range cur {
		if selected(c) {
			out = append(out, wasmContainer(c))
		}
	}
	return out, func() {
		cancel()
		closeCache()
	}
}

func wasmContainer(c *containers.Container) wasm.Container {
	return wasm.Container{ID: c.ID, Name: c.Name, MntNS: c.MntNS, CgroupID: c.CgroupID}
}
