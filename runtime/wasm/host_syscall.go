package wasm

import (
	"encoding/binary"

	"github.com/gadgetry/gadgetry/runtime/syscalls"
	"github.com/tetratelabs/wazero/api"
)

// Layout of a syscall declaration written to the guest (little-endian, strings NUL-padded):
// name [32]byte, nrParams u8, pad [3]byte, then 6 × {name [32]byte, type [32]byte, flags u32
// (bit 0: pointer)}. The wasmapi SDK decodes the same layout. Inspektor Gadget's layout has no
// type: 6 × {name [32]byte, flags u32}; it is what a guest other than Gadgetry's SDK gets,
// unless its buffer holds Gadgetry's.
const (
	declNameLen    = 32
	declParamLen   = 32 + 32 + 4
	declMaxParam   = 6
	declSize       = 36 + declMaxParam*declParamLen
	igDeclParamLen = 32 + 4
	igDeclSize     = 36 + declMaxParam*igDeclParamLen
)

// tracepointNames are the syscalls whose sys_enter tracepoint the kernel names after their
// implementation (SYSCALL_DEFINE(newfstat...) for fstat): a guest asks for the declaration by
// the syscall's name, as getSyscallName gives it.
var tracepointNames = map[string]string{
	"fstat":    "newfstat",
	"lstat":    "newlstat",
	"stat":     "newstat",
	"uname":    "newuname",
	"sendfile": "sendfile64",
	"umount2":  "umount",
	"_sysctl":  "sysctl",
}

func putC(dst []byte, s string) {
	n := copy(dst[:len(dst)-1], s)
	clear(dst[n:])
}

func init() {
	register("getSyscallID", []api.ValueType{i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getSyscallID"
		name, ok := i.nonEmpty(mod, fn, s[0])
		s[0] = uint64(uint32(0xffffffff))
		if !ok {
			return
		}
		t, err := syscalls.Running()
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		nr, ok := t.Number(name)
		if !ok {
			// An answer, not a misuse: guests probe names and numbers (not logged).
			return
		}
		s[0] = uint64(uint32(nr))
	})
	register("getSyscallName", []api.ValueType{i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getSyscallName"
		nr, dst := uint32(s[0]), s[1]
		s[0] = 1
		t, err := syscalls.Running()
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		name, ok := t.Name(int(nr))
		if !ok {
			// An answer, not a misuse: guests probe names and numbers (not logged).
			return
		}
		s[0] = errCode(i.writeC(mod, fn, dst, name))
	})
	register("getSyscallDeclaration", []api.ValueType{i64, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getSyscallDeclaration"
		name, ok := i.nonEmpty(mod, fn, s[0])
		dst := s[1]
		s[0] = 1
		if !ok {
			return
		}
		b, ok := i.read(mod, fn, dst)
		if !ok {
			return
		}
		size, paramLen := declSize, declParamLen
		if i.sdk == "" && !i.legacyFC && len(b) < declSize {
			size, paramLen = igDeclSize, igDeclParamLen // IG's layout
		}
		if len(b) < size {
			i.bad(fn, "buffer holds %d bytes, a declaration needs %d", len(b), size)
			return
		}
		d, err := syscalls.Declare(name)
		if alias, ok := tracepointNames[name]; err != nil && ok {
			// The kernel names the tracepoint after the syscall's implementation.
			if d, err = syscalls.Declare(alias); err == nil {
				d.Name = name
			}
		}
		if err != nil {
			// Not a misuse either: a name the kernel has no tracepoint for; the guest gets
			// the error code.
			return
		}
		b = b[:size]
		clear(b)
		putC(b[:declNameLen], d.Name)
		n := min(len(d.Params), declMaxParam)
		b[declNameLen] = byte(n)
		for k := 0; k < n; k++ {
			p := b[36+k*paramLen:]
			putC(p[:32], d.Params[k].Name)
			flags := p[paramLen-4 : paramLen]
			if paramLen == declParamLen {
				putC(p[32:64], d.Params[k].Type)
			}
			if d.Params[k].Pointer() {
				binary.LittleEndian.PutUint32(flags, 1)
			}
		}
		s[0] = 0
	})
}
