// Guest wasmcontainers subscribes to the host's "containers" data source in gadgetStart, as
// Inspektor Gadget's traceloop guest does, with the raw ABI and IG's buffer conventions, and
// logs each event, as a warning, as "result container=EVENT_TYPE,NAME,CONTAINER_ID,MNTNS_ID".
package main

import (
	"strconv"
	"unsafe"
)

//go:wasmimport ig gadgetLog
func gadgetLog(level uint32, msg uint64)

//go:wasmimport ig getDataSource
func getDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func dataSourceSubscribe(ds, typ, prio uint32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func dataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig fieldGetScalar
func fieldGetScalar(field, data, kind uint32, errPtr uint32) uint64

//go:wasmimport ig fieldGetBuffer
func fieldGetBuffer(field, data, kind uint32, dst uint64) int32

func str(s string) uint64 {
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

var msg string

// text reads a string field into a buffer of max bytes, as IG's SDK's String does.
func text(f, d uint32, max int) string {
	b := make([]byte, max)
	n := fieldGetBuffer(f, d, 14, uint64(len(b))<<32|uint64(uintptr(unsafe.Pointer(&b[0]))))
	if n < 0 {
		return "(error)"
	}
	return string(b[:n])
}

var typ, name, id, mntns uint32

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

//go:wasmexport gadgetStart
func gadgetStart() int32 {
	ds := getDataSource(str("containers"))
	typ = dataSourceGetField(ds, str("event_type"))
	name = dataSourceGetField(ds, str("name"))
	id = dataSourceGetField(ds, str("container_id"))
	mntns = dataSourceGetField(ds, str("mntns_id"))
	if ds == 0 || typ == 0 || name == 0 || id == 0 || mntns == 0 || dataSourceSubscribe(ds, 1, 0, 9) != 0 {
		return 1
	}
	return 0
}

//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds, d uint32) {
	msg = "result container=" + text(typ, d, 16) + "," + text(name, d, 256) + "," + text(id, d, 128) + "," +
		strconv.FormatUint(fieldGetScalar(mntns, d, 9, 0), 10)
	gadgetLog(1, str(msg)) // warn: `gadgetry run` prints warnings
}

func main() {}
