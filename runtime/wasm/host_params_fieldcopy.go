package wasm

import "github.com/tetratelabs/wazero/api"

// setConfig with the key "gadgetry.fieldcopy" is a field-copy request (fieldcopy.go); every
// other key goes on to the setConfig of host_params.go.
//
// This file's init runs after host_params.go's (the go command initializes a package's files
// in file name order), so setConfig is registered already; the check below turns a change of
// that order into a failure of every test of the package rather than a silent loss.
func init() {
	next, ok := hostFuncs["setConfig"]
	if !ok {
		panic("wasm: the field copy extends setConfig, which is not registered yet (host_params.go must initialize first)")
	}
	register("setConfig", next.params, next.results, func(i *Instance, mod api.Module, s []uint64) {
		if b, ok := mod.Memory().Read(uint32(s[0]), uint32(s[0]>>32)); !ok || string(b) != fieldCopyKey {
			next.fn(i, mod, s)
			return
		}
		packed, kind := s[1], uint32(s[2])
		s[0] = 1
		if kind != 12 && kind != 13 {
			i.bad("setConfig", "%s: value kind %d: only strings (12) are supported", fieldCopyKey, kind)
			return
		}
		value, ok := i.str(mod, "setConfig", packed)
		if !ok {
			return
		}
		s[0] = errCode(i.fieldCopyRequest(mod, value))
	})
}
