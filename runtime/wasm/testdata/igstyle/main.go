// Guest igstyle uses the raw ABI without the SDK, the way a module built for Inspektor
// Gadget does: its dataSourceCallback has no result (it cannot drop events).
package main

import "unsafe"

//go:wasmimport ig getDataSource
func getDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func dataSourceSubscribe(ds, typ, prio uint32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func dataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig fieldSet
func fieldSet(field, data, kind uint32, value uint64) uint32

func str(s string) uint64 {
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

var pid uint32

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds := getDataSource(str("events"))
	pid = dataSourceGetField(ds, str("pid"))
	if ds == 0 || pid == 0 || dataSourceSubscribe(ds, 1, 0, 7) != 0 {
		return 1
	}
	return 0
}

//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds, data uint32) {
	if cbID == 7 {
		fieldSet(pid, data, 8, 4242)
	}
}

func main() {}
