package wasm

import "github.com/tetratelabs/wazero/api"

func init() {
	register("getParamValue", []api.ValueType{i64, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getParamValue"
		key, ok := i.nonEmpty(mod, fn, s[0])
		dst := s[1]
		s[0] = 1
		if !ok {
			return
		}
		if i.env.Param == nil {
			i.bad(fn, "the run provides no parameters (asked for %q)", key)
			return
		}
		v, found := i.env.Param(key)
		if !found {
			i.bad(fn, "no parameter %q (declare it under params.wasm in gadget.yaml)", key)
			return
		}
		s[0] = errCode(i.writeC(mod, fn, dst, v))
	})
	register("setConfig", []api.ValueType{i64, i64, i32}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "setConfig"
		key, ok := i.nonEmpty(mod, fn, s[0])
		packed, kind := s[1], uint32(s[2])
		s[0] = 1
		if !ok {
			return
		}
		if kind != 12 && kind != 13 {
			i.bad(fn, "%s: value kind %d: only strings (12) are supported", key, kind)
			return
		}
		val, ok := i.str(mod, fn, packed)
		if !ok {
			return
		}
		if i.phase > PhasePreStart {
			i.bad(fn, "%s: configuration can only change in gadgetInit and gadgetPreStart (the collection is loaded after)", key)
			return
		}
		if i.env.SetConfig == nil {
			i.bad(fn, "%s: the run accepts no configuration", key)
			return
		}
		if err := i.env.SetConfig(key, val); err != nil {
			i.bad(fn, "%s: %v", key, err)
			return
		}
		s[0] = 0
	})
}
