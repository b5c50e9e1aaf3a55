package wasmapi

import (
	"encoding/binary"
)

// GetSyscallID returns the number of syscall name on the running kernel's architecture.
// Never hard-code syscall numbers in a guest: they differ between amd64 and arm64.
func GetSyscallID(name string) (int, error) {
	id := getSyscallID(strArg(name))
	keepStr(name)
	if id < 0 {
		return 0, fail("syscall " + name)
	}
	return int(id), nil
}

// GetSyscallName returns the name of syscall id on the running kernel's architecture.
func GetSyscallName(id int) (string, error) {
	var buf [64]byte
	if id < 0 || getSyscallName(uint32(id), bufArg(buf[:])) != 0 {
		return "", fail("syscall name")
	}
	return cstring(buf[:]), nil
}

// SyscallParam is one parameter of a syscall.
type SyscallParam struct {
	Name    string
	Type    string // C type, e.g. "const char *"
	Pointer bool
}

// SyscallDeclaration is a syscall's name and parameters, as the kernel's tracefs describes.
type SyscallDeclaration struct {
	Name   string
	Params []SyscallParam
}

// Layout of the declaration the host writes (all little-endian, names NUL-padded):
// name [32]byte, nrParams u8, pad [3]byte, then 6 × {name [32]byte, type [32]byte,
// flags u32 (bit 0: pointer)}.
const (
	declNameLen  = 32
	declParamLen = 32 + 32 + 4
	declSize     = 36 + 6*declParamLen
)

// GetSyscallDeclaration returns the declaration of syscall name.
func GetSyscallDeclaration(name string) (SyscallDeclaration, error) {
	var buf [declSize]byte
	rc := getSyscallDeclaration(strArg(name), bufArg(buf[:]))
	keepStr(name)
	if rc != 0 {
		return SyscallDeclaration{}, fail("syscall declaration " + name)
	}
	d := SyscallDeclaration{Name: cstring(buf[:declNameLen])}
	n := int(buf[declNameLen])
	if n > 6 {
		n = 6
	}
	for i := 0; i < n; i++ {
		p := buf[36+i*declParamLen:]
		d.Params = append(d.Params, SyscallParam{
			Name:    cstring(p[:32]),
			Type:    cstring(p[32:64]),
			Pointer: binary.LittleEndian.Uint32(p[64:68])&1 != 0,
		})
	}
	return d, nil
}
