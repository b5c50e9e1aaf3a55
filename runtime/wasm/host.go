package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of module "ig".
type hostFunc struct {
	params, results []api.ValueType
	fn              func(i *Instance, mod api.Module, stack []uint64)
}

// hostFuncs is the whole ABI v1 host surface, filled by the host_*.go files' init.
var hostFuncs = map[string]hostFunc{}

func register(name string, params, results []api.ValueType, fn func(i *Instance, mod api.Module, stack []uint64)) {
	hostFuncs[name] = hostFunc{params, results, fn}
}

func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder("ig")
	for name, hf := range hostFuncs {
		fn := hf.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				i, _ := ctx.Value(instKey{}).(*Instance)
				if i == nil {
					// Not called through an Instance: refuse everything.
					for k := range stack {
						stack[k] = 1
					}
					return
				}
				fn(i, mod, stack)
			}), hf.params, hf.results).
			WithName(name).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// bad records a host call the guest got wrong: logged, counted, and quoted if the hook fails.
func (i *Instance) bad(fn string, format string, args ...any) {
	msg := "ig." + fn + ": " + fmt.Sprintf(format, args...)
	i.hostErrors.Add(1)
	i.lastHostErr = msg
	i.log.Warn("wasm guest call failed", "hook", i.curHook, "reason", msg)
}

// read returns the guest memory a packed len<<32|ptr designates (nil for 0).
func (i *Instance) read(mod api.Module, fn string, packed uint64) ([]byte, bool) {
	if packed == 0 {
		return nil, true
	}
	ptr, n := uint32(packed), uint32(packed>>32)
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		i.bad(fn, "buffer %#x+%d lies outside guest memory (%d bytes)", ptr, n, mod.Memory().Size())
	}
	return b, ok
}

// str returns a copy of the packed string.
func (i *Instance) str(mod api.Module, fn string, packed uint64) (string, bool) {
	b, ok := i.read(mod, fn, packed)
	return string(b), ok
}

// name returns a non-empty packed string.
func (i *Instance) nonEmpty(mod api.Module, fn string, packed uint64) (string, bool) {
	s, ok := i.str(mod, fn, packed)
	if ok && s == "" {
		i.bad(fn, "empty name")
		return "", false
	}
	return s, ok
}

// writeC writes s NUL-terminated into the packed destination buffer.
func (i *Instance) writeC(mod api.Module, fn string, dst uint64, s string) bool {
	b, ok := i.read(mod, fn, dst)
	if !ok {
		return false
	}
	if len(s)+1 > len(b) {
		i.bad(fn, "value is %d bytes (with its NUL), buffer holds %d", len(s)+1, len(b))
		return false
	}
	copy(b, s)
	b[len(s)] = 0
	return true
}

// handle returns the entry of handle h of kind k, or records the error.
func (i *Instance) handle(fn string, h uint32, k kind) (*entry, bool) {
	e, ok := i.h.get(h, k)
	if !ok {
		got := "no object"
		if h != 0 && int(h) <= len(i.h.ents) {
			got = "a " + i.h.ents[h-1].kind.String()
		}
		i.bad(fn, "handle %d is not a %s (it is %s)", h, k, got)
	}
	return e, ok
}

func b2u(ok bool) uint64 {
	if ok {
		return 1
	}
	return 0
}

// errCode is the ABI's err result: 0 ok, 1 error.
func errCode(ok bool) uint64 {
	if ok {
		return 0
	}
	return 1
}
