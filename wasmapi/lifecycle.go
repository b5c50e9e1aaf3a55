package wasmapi

// Hooks of the gadget's lifecycle, run by the exports in exports_wasm.go.
var (
	initHooks, preStartHooks, startHooks, stopHooks, postStopHooks []func() error
)

// OnInit registers fn to run in gadgetInit: subscribe to data sources, add fields, create
// data sources, read parameters. Hooks run in registration order; the first error stops the
// run, and its text is logged at error level.
func OnInit(fn func() error) { initHooks = append(initHooks, fn) }

// OnPreStart registers fn to run in gadgetPreStart, before the eBPF collection is loaded
// (e.g. SetConfig("programs.<p>.attach_to", ...)).
func OnPreStart(fn func() error) { preStartHooks = append(preStartHooks, fn) }

// OnStart registers fn to run in gadgetStart: the eBPF maps exist and programs are not yet
// attached, so a filter map filled here sees every event.
func OnStart(fn func() error) { startHooks = append(startHooks, fn) }

// OnStop registers fn to run in gadgetStop, before programs detach.
func OnStop(fn func() error) { stopHooks = append(stopHooks, fn) }

// OnPostStop registers fn to run in gadgetPostStop, after programs detached.
func OnPostStop(fn func() error) { postStopHooks = append(postStopHooks, fn) }

// Initer is implemented by a gadget with an Init hook; see Register.
type Initer interface{ Init() error }

// PreStarter is implemented by a gadget with a PreStart hook.
type PreStarter interface{ PreStart() error }

// Starter is implemented by a gadget with a Start hook.
type Starter interface{ Start() error }

// Stopper is implemented by a gadget with a Stop hook.
type Stopper interface{ Stop() error }

// PostStopper is implemented by a gadget with a PostStop hook.
type PostStopper interface{ PostStop() error }

// Register registers the hooks g implements (Initer, PreStarter, Starter, Stopper,
// PostStopper), as if each were passed to OnInit, OnPreStart...
func Register(g any) {
	if h, ok := g.(Initer); ok {
		OnInit(h.Init)
	}
	if h, ok := g.(PreStarter); ok {
		OnPreStart(h.PreStart)
	}
	if h, ok := g.(Starter); ok {
		OnStart(h.Start)
	}
	if h, ok := g.(Stopper); ok {
		OnStop(h.Stop)
	}
	if h, ok := g.(PostStopper); ok {
		OnPostStop(h.PostStop)
	}
}

func runHooks(name string, hooks []func() error) int32 {
	for _, h := range hooks {
		if err := h(); err != nil {
			Log(LevelError, name+": "+err.Error())
			return 1
		}
	}
	return 0
}
