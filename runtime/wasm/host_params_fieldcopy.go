package wasm

import (
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// setConfig with the key "gadgetry.fieldcopy" is a field-copy request (fieldcopy.go); with
// the key "gadgetry.sdk" the guest announces the version of Gadgetry's SDK it was built with
// (SDK v0.5.0 on, first thing in gadgetInit; Inspektor Gadget's host keeps any key and goes
// on); every other key goes on to the setConfig of host_params.go.
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
		b, ok := mod.Memory().Read(uint32(s[0]), uint32(s[0]>>32))
		if !ok || (string(b) != fieldCopyKey && string(b) != sdkKey) {
			next.fn(i, mod, s)
			return
		}
		key := string(b)
		packed, kind := s[1], uint32(s[2])
		s[0] = 1
		if kind != 12 && kind != 13 {
			i.bad("setConfig", "%s: value kind %d: only strings (12) are supported", key, kind)
			return
		}
		value, ok := i.str(mod, "setConfig", packed)
		if !ok {
			return
		}
		if key == sdkKey {
			s[0] = errCode(i.announceSDK(mod, value))
			return
		}
		if strings.HasPrefix(value, "wb ") {
			s[0] = errCode(i.wbRequest(mod, value))
			return
		}
		s[0] = errCode(i.fieldCopyRequest(mod, value))
	})
}

// sdkKey is the setConfig key with which Gadgetry's SDK (v0.5.0 on) announces its version:
// "VERSION ack=PTR". The host writes sdkAck, a u32, at PTR in guest memory, which is how the
// SDK knows its host is this one (Inspektor Gadget's keeps the key and writes nothing).
const (
	sdkKey = "gadgetry.sdk"
	// sdkAck is "GSDK" read as a little-endian u32.
	sdkAck = 0x4b445347
)

// announceSDK records the SDK version a guest announced and acknowledges it. Such a guest
// reads a too-small buffer's length from fieldGetBuffer, and reads a char[N] field's text
// with kind string and its whole array with kind bytes (fieldBytes).
func (i *Instance) announceSDK(mod api.Module, value string) bool {
	v, ack, ok := strings.Cut(value, " ack=")
	ptr, err := strconv.ParseUint(ack, 10, 32)
	switch {
	case !ok || err != nil || !strings.HasPrefix(v, "v") || len(v) > 64:
		i.bad("setConfig", "%s %q: want \"VERSION ack=PTR\"", sdkKey, value)
		return false
	case i.phase != PhaseInit:
		i.bad("setConfig", "%s: the SDK announces itself in gadgetInit", sdkKey)
		return false
	case !mod.Memory().WriteUint32Le(uint32(ptr), sdkAck):
		i.bad("setConfig", "%s: ack=%d lies outside guest memory", sdkKey, ptr)
		return false
	}
	i.sdk = v
	i.legacyFC = false // set at instantiation for a callback with a result (instance.go)
	i.log.Debug("wasm guest SDK", "version", v)
	return true
}
