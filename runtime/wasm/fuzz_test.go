package wasm

import (
	"context"
	"log/slog"
	"sort"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzHostFuncs calls every host function with arbitrary arguments against a one-page guest
// memory: bad pointers, lengths, handles and kinds must be refused, never crash the host.
func FuzzHostFuncs(f *testing.F) {
	var names []string
	for n := range hostFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	// (module (memory (export "memory") 1))
	memMod := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x05, 0x03, 0x01, 0x00, 0x01,
		0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, memMod)
	if err != nil {
		f.Fatal(err)
	}
	run := newFakeRun(f, map[string]string{"k": "v"})
	env := run.env()
	env.Maps = nil
	env.Logger = slog.New(slog.DiscardHandler)
	inst := &Instance{name: "fuzz", env: env, log: env.Logger, objects: map[any]uint32{}, phase: PhaseStart}
	inst.done = make(chan struct{})
	inst.ctx, inst.cancel = context.WithCancelCause(ctx)
	defer inst.Close()
	// Some valid handles so that fuzzing reaches past the handle checks.
	inst.object(kDataSource, run.events)
	inst.object(kField, run.pid)
	inst.object(kField, run.comm)
	inst.h.add(entry{kind: kData, ds: run.events, obj: run.events.NewData(), packet: true})
	mod.Memory().Write(16, []byte("events\x00comm\x00pid"))
	for i := range names {
		f.Add(uint8(i), uint64(1), uint64(2), uint64(3), uint64(8)<<32|16, uint64(0))
	}
	f.Fuzz(func(t *testing.T, which uint8, a, b, c, d, e uint64) {
		hf := hostFuncs[names[int(which)%len(names)]]
		stack := make([]uint64, max(len(hf.params), len(hf.results), 1))
		copy(stack, []uint64{a, b, c, d, e})
		hf.fn(inst, mod, stack)
		inst.releaseTemps()
		inst.pending = inst.pending[:0]
	})
}
