package wasmapi

import (
	"errors"
	"runtime"
	"unsafe"
)

// strArg packs a string as len<<32 | ptr. The caller keeps s alive (keepStr) until the host
// call returns; a string literal or a parameter is alive anyway.
func strArg(s string) uint64 {
	if len(s) == 0 {
		return 0
	}
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))&0xffffffff
}

// bufArg packs a byte slice as len<<32 | ptr; the host reads len bytes or writes at most len.
func bufArg(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(len(b))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))&0xffffffff
}

// keepStr and keepBuf keep a string's or a slice's memory alive until the host call that was
// given it returns. They pass the data pointer, not the value: runtime.KeepAlive(s) of a
// string or slice boxes it into an interface, an allocation on every host call under TinyGo.
func keepStr(s string) { runtime.KeepAlive(unsafe.StringData(s)) }
func keepBuf(b []byte) { runtime.KeepAlive(unsafe.SliceData(b)) }

// scratch receives field values that are copied out at once (String, Bytes). The guest runs
// one hook or callback at a time, so one buffer serves them all; a stack array would escape
// to the heap under TinyGo, an allocation per read.
var scratch [256]byte

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// ErrHost is wrapped by every error a failed host call returns; the host logs the reason.
var ErrHost = errors.New("host call failed (the reason is in the gadget's log)")

type hostError struct{ what string }

func (e *hostError) Error() string { return e.what + ": " + ErrHost.Error() }
func (e *hostError) Unwrap() error { return ErrHost }

func fail(what string) error { return &hostError{what} }

func check(rc uint32, what string) error {
	if rc != 0 {
		return fail(what)
	}
	return nil
}
