package wasm

import "github.com/tetratelabs/wazero/api"

func init() {
	register("kallsymsSymbolExists", []api.ValueType{i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		name, ok := i.nonEmpty(mod, "kallsymsSymbolExists", s[0])
		s[0] = 0
		if !ok {
			return
		}
		exists := Kallsyms
		if i.env.KallsymsSymbolExists != nil {
			exists = i.env.KallsymsSymbolExists
		}
		s[0] = b2u(exists(name))
	})
	register("shouldDiscardMntnsID", []api.ValueType{i64}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		id := s[0]
		s[0] = 0
		if i.env.ShouldDiscardMntnsID != nil {
			s[0] = b2u(i.env.ShouldDiscardMntnsID(id))
		}
	})
}
