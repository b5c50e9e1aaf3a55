package wasm

import (
	"encoding/binary"

	"github.com/cilium/ebpf"
	"github.com/tetratelabs/wazero/api"
)

func (i *Instance) ebpfMap(fn string, h uint32) (*ebpf.Map, bool) {
	e, ok := i.handle(fn, h, kMap)
	if !ok {
		return nil, false
	}
	return e.obj.(*ebpf.Map), true
}

func init() {
	register("newMap", []api.ValueType{i64, i32, i32, i32, i32}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "newMap"
		name, ok := i.str(mod, fn, s[0])
		spec := &ebpf.MapSpec{Name: name, Type: ebpf.MapType(uint32(s[1])), KeySize: uint32(s[2]),
			ValueSize: uint32(s[3]), MaxEntries: uint32(s[4])}
		s[0] = 0
		if !ok {
			return
		}
		if len(spec.Name) > 15 {
			spec.Name = spec.Name[:15] // the kernel's limit; the name is informative only
		}
		m, err := ebpf.NewMap(spec)
		if err != nil {
			i.bad(fn, "creating map %q (%s, key %d, value %d, %d entries): %v", name, spec.Type, spec.KeySize, spec.ValueSize, spec.MaxEntries, err)
			return
		}
		s[0] = uint64(i.h.add(entry{kind: kMap, obj: m, owned: true}))
	})
	register("getMap", []api.ValueType{i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getMap"
		name, ok := i.nonEmpty(mod, fn, s[0])
		s[0] = 0
		if !ok {
			return
		}
		if i.phase < PhaseStart {
			i.bad(fn, "map %q: maps exist from gadgetStart on (the collection is loaded after gadgetPreStart)", name)
			return
		}
		if i.env.Maps == nil {
			i.bad(fn, "map %q: the run has no eBPF collection", name)
			return
		}
		m, err := i.env.Maps.Map(name)
		if err != nil {
			i.bad(fn, "map %q: %v", name, err)
			return
		}
		s[0] = uint64(i.h.add(entry{kind: kMap, obj: m}))
	})
	register("mapLookup", []api.ValueType{i32, i64, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "mapLookup"
		mh, kp, vp := uint32(s[0]), s[1], s[2]
		s[0] = 1
		m, ok := i.ebpfMap(fn, mh)
		if !ok {
			return
		}
		key, ok := i.read(mod, fn, kp)
		if !ok {
			return
		}
		val, ok := i.read(mod, fn, vp)
		if !ok {
			return
		}
		if len(key) != int(m.KeySize()) || len(val) < int(m.ValueSize()) {
			i.bad(fn, "map %q: key is %d bytes (want %d), value buffer %d (want at least %d)", m.String(), len(key), m.KeySize(), len(val), m.ValueSize())
			return
		}
		if isMapOfMaps(m) {
			// As on Inspektor Gadget: the value is a handle of the inner map, which the
			// guest releases.
			var inner *ebpf.Map
			if err := m.Lookup(key, &inner); err != nil {
				i.bad(fn, "map %s: %v", m.String(), err)
				return
			}
			binary.LittleEndian.PutUint32(val, i.h.add(entry{kind: kMap, obj: inner, owned: true}))
			s[0] = 0
			return
		}
		if err := m.Lookup(key, val[:m.ValueSize()]); err != nil {
			i.bad(fn, "map %s: %v", m.String(), err)
			return
		}
		s[0] = 0
	})
	register("mapUpdate", []api.ValueType{i32, i64, i64, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "mapUpdate"
		mh, kp, vp, flags := uint32(s[0]), s[1], s[2], s[3]
		s[0] = 1
		m, ok := i.ebpfMap(fn, mh)
		if !ok {
			return
		}
		key, ok := i.read(mod, fn, kp)
		if !ok {
			return
		}
		val, ok := i.read(mod, fn, vp)
		if !ok {
			return
		}
		if len(key) != int(m.KeySize()) || len(val) != int(m.ValueSize()) {
			i.bad(fn, "map %s: key is %d bytes (want %d), value %d (want %d)", m.String(), len(key), m.KeySize(), len(val), m.ValueSize())
			return
		}
		if isMapOfMaps(m) {
			// As on Inspektor Gadget: the value is the handle of the inner map (newMap,
			// getMap), which the host turns into the map's file descriptor.
			inner, ok := i.ebpfMap(fn, binary.LittleEndian.Uint32(val))
			if !ok {
				return
			}
			if err := m.Update(key, inner, ebpf.MapUpdateFlags(flags)); err != nil {
				i.bad(fn, "map %s: inner map %s: %v", m.String(), inner.String(), err)
				return
			}
			s[0] = 0
			return
		}
		if err := m.Update(key, val, ebpf.MapUpdateFlags(flags)); err != nil {
			i.bad(fn, "map %s: %v", m.String(), err)
			return
		}
		s[0] = 0
	})
	register("mapDelete", []api.ValueType{i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "mapDelete"
		mh, kp := uint32(s[0]), s[1]
		s[0] = 1
		m, ok := i.ebpfMap(fn, mh)
		if !ok {
			return
		}
		key, ok := i.read(mod, fn, kp)
		if !ok {
			return
		}
		if len(key) != int(m.KeySize()) {
			i.bad(fn, "map %s: key is %d bytes, want %d", m.String(), len(key), m.KeySize())
			return
		}
		if err := m.Delete(key); err != nil {
			i.bad(fn, "map %s: %v", m.String(), err)
			return
		}
		s[0] = 0
	})
	register("mapRelease", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = errCode(i.releaseHandle("mapRelease", uint32(s[0]), kMap))
	})
	register("releaseHandle", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = errCode(i.releaseHandle("releaseHandle", uint32(s[0]), kFree))
	})
}

// releaseHandle releases h (of kind k, or any kind but data sources and fields when k is
// kFree), closing what the guest owns.
func (i *Instance) releaseHandle(fn string, h uint32, k kind) bool {
	if h == 0 || int(h) > len(i.h.ents) || i.h.ents[h-1].kind == kFree {
		i.bad(fn, "handle %d is not in use", h)
		return false
	}
	e := i.h.ents[h-1]
	if k != kFree && e.kind != k {
		i.bad(fn, "handle %d is not a %s (it is a %s)", h, k, e.kind)
		return false
	}
	if e.kind == kDataSource || e.kind == kField || e.temp {
		// Stable handles (and a callback's own handles) stay: releasing them is a no-op.
		return true
	}
	if e.owned {
		if c, ok := e.obj.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				i.bad(fn, "closing %s: %v", e.kind, err)
			}
		}
	}
	i.h.release(h)
	return true
}

// isMapOfMaps reports whether m's values are maps: the guest passes and receives them as map
// handles, as on Inspektor Gadget (IG's traceloop keeps a perf buffer per container in one).
func isMapOfMaps(m *ebpf.Map) bool {
	return m.Type() == ebpf.ArrayOfMaps || m.Type() == ebpf.HashOfMaps
}
