package wasmapi

import (
	"strconv"
	"unsafe"
)

// The SDK announces its version to the host first thing in gadgetInit, through setConfig
// ("gadgetry.sdk", "VERSION ack=PTR"), which every host has. Gadgetry's host (from SDK v0.5.0)
// acknowledges by writing a magic word at PTR; Inspektor Gadget's keeps the key and writes
// nothing. On a Gadgetry host, fieldGetBuffer answers a too-small buffer with the length it
// needs, and gives a char[N] field's text when read as a string and its whole array when
// read as bytes; elsewhere the SDK cuts the text itself (Field.String).
const (
	sdkKey = "gadgetry.sdk"
	sdkAck = 0x4b445347 // "GSDK"
)

var (
	// ack receives the host's acknowledgement.
	ack uint64
	// gadgetryHost is true once a Gadgetry host acknowledged the announcement.
	gadgetryHost bool
)

// announce tells the host which SDK the module was built with.
func announce() {
	v := Version + " ack=" + strconv.FormatUint(uint64(uintptr(unsafe.Pointer(&ack))), 10)
	rc := setConfig(strArg(sdkKey), strArg(v), uint32(KindString))
	keepStr(v)
	gadgetryHost = rc == 0 && uint32(ack) == sdkAck
}
