// Guest igguest is written the way a module built for Inspektor Gadget is: the raw ABI
// without Gadgetry's SDK, IG's conventions for buffers (a getter returns the bytes written or
// -1; text is cut at the first NUL by the guest), argv rebuilt from a NUL-separated char[N]
// field as IG's trace_exec guest does, and the "containers" data source subscribed to in
// gadgetStart as IG's traceloop guest does. It reports what it saw in log lines
// "result <key>=<value>".
package main

import (
	"strconv"
	"strings"
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

//go:wasmimport ig fieldSet
func fieldSet(field, data, kind uint32, value uint64) uint32

//go:wasmimport ig getParamValue
func getParamValue(key uint64, dst uint64) uint32

//go:wasmimport ig setConfig
func setConfig(key, value uint64, kind uint32) uint32

//go:wasmimport ig getMap
func getMap(name uint64) uint32

//go:wasmimport ig newMap
func newMap(name uint64, typ, keySize, valueSize, maxEntries uint32) uint32

//go:wasmimport ig mapUpdate
func mapUpdate(m uint32, key, value uint64, flags uint64) uint32

//go:wasmimport ig mapLookup
func mapLookup(m uint32, key, value uint64) uint32

//go:wasmimport ig releaseHandle
func releaseHandle(h uint32) uint32

//go:wasmimport ig getSyscallDeclaration
func getSyscallDeclaration(name, dst uint64) uint32

//go:wasmimport ig newPerfReader
func newPerfReader(m, size, overwritable uint32) uint32

//go:wasmimport ig perfReaderRead
func perfReaderRead(r uint32, dst uint64) uint32

const (
	kindUint32 = 8
	kindInt32  = 4
	kindUint64 = 9
	kindString = 12
	kindBytes  = 14
)

func str(s string) uint64 {
	if s == "" {
		return 0
	}
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

func buf(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(len(b))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

var keep []string // strings passed to the host stay reachable

func result(k, v string) {
	msg := "result " + k + "=" + v
	keep = append(keep[:0], msg)
	gadgetLog(2, str(msg))
}

// bytesOf reads a string or bytes field into dst, as IG's SDK's Bytes does: the number of
// bytes written, or -1.
func bytesOf(f, d uint32, dst []byte) int32 {
	return fieldGetBuffer(f, d, kindBytes, buf(dst))
}

// stringOf reads a field's text as IG's SDK's String does: into a buffer of maxSize, cut at
// the first NUL.
func stringOf(f, d uint32, maxSize int) (string, bool) {
	dst := make([]byte, maxSize)
	n := bytesOf(f, d, dst)
	if n < 0 {
		return "", false
	}
	s := dst[:n]
	for i, c := range s {
		if c == 0 {
			s = s[:i]
			break
		}
	}
	return string(s), true
}

func param(key string) string {
	dst := make([]byte, 256)
	if getParamValue(str(key), buf(dst)) != 0 {
		return ""
	}
	s, _, _ := strings.Cut(string(dst), "\x00")
	return s
}

var (
	execDS, args, argsSize, argsCount, comm uint32
	ctDS, ctType, ctMntns, ctName, ctID     uint32
	payload                                 = make([]byte, 32)
	fcBuf                                   = make([]uint64, 4)
)

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	execDS = getDataSource(str("exec"))
	args = dataSourceGetField(execDS, str("args"))
	argsSize = dataSourceGetField(execDS, str("args_size"))
	argsCount = dataSourceGetField(execDS, str("args_count"))
	comm = dataSourceGetField(execDS, str("comm"))
	if execDS == 0 || args == 0 || argsSize == 0 || argsCount == 0 || comm == 0 || dataSourceSubscribe(execDS, 1, 0, 1) != 0 {
		return 1
	}
	syscallDecl()
	if param("legacy") == "true" {
		// What Gadgetry's SDK v0.3.0 and v0.4.0 did: a field copy without announcing a version.
		req := "v1 ds=" + strconv.Itoa(int(execDS)) + " buf=" + strconv.Itoa(int(uintptr(unsafe.Pointer(&fcBuf[0])))) + "+32 fields="
		keep = append(keep[:0], req)
		result("legacy", strconv.Itoa(int(setConfig(str("gadgetry.fieldcopy"), str(req), kindString))))
	}
	return 0
}

//go:wasmexport gadgetStart
func gadgetStart() int32 {
	if param("mapofmaps") == "true" {
		mapOfMaps()
	}
	if param("perf") == "true" {
		perfR = newPerfReader(getMap(str("events_perf")), 4096, 0)
	}
	ctDS = getDataSource(str("containers"))
	if ctDS == 0 {
		return 0 // a run without containers
	}
	ctType = dataSourceGetField(ctDS, str("event_type"))
	ctMntns = dataSourceGetField(ctDS, str("mntns_id"))
	ctName = dataSourceGetField(ctDS, str("name"))
	ctID = dataSourceGetField(ctDS, str("container_id"))
	if ctType == 0 || ctMntns == 0 || ctName == 0 || ctID == 0 || dataSourceSubscribe(ctDS, 1, 0, 2) != 0 {
		return 1
	}
	return 0
}

//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds, data uint32) {
	switch cbID {
	case 1:
		onExec(data)
	case 2:
		onContainer(data)
	}
}

// onExec rebuilds argv as IG's trace_exec guest does and sets args to it, joined by spaces.
func onExec(d uint32) {
	n := bytesOf(args, d, payload)
	result("args.n", strconv.Itoa(int(n)))
	result("args.small", strconv.Itoa(int(bytesOf(args, d, make([]byte, 4)))))
	if n <= 0 {
		return
	}
	size := uint32(fieldGetScalar(argsSize, d, kindUint32, 0))
	count := int32(fieldGetScalar(argsCount, d, kindInt32, 0))
	if size > uint32(n) {
		size = uint32(n)
	}
	var argv []string
	var cur []byte
	for i := uint32(0); i < size && int32(len(argv)) < count; i++ {
		if payload[i] == 0 {
			argv = append(argv, string(cur))
			cur = cur[:0]
		} else {
			cur = append(cur, payload[i])
		}
	}
	joined := strings.Join(argv, " ")
	keep = append(keep[:0], joined)
	fieldSet(args, d, kindString, str(joined))
	c, ok := stringOf(comm, d, 16)
	result("comm", c+","+strconv.FormatBool(ok))
}

func onContainer(d uint32) {
	typ, _ := stringOf(ctType, d, 16)
	name, _ := stringOf(ctName, d, 64)
	id, _ := stringOf(ctID, d, 128)
	mntns := fieldGetScalar(ctMntns, d, kindUint64, 0)
	result("container", typ+","+name+","+id+","+strconv.FormatUint(mntns, 10))
}

var perfR uint32

// syscallDecl reads the declarations of openat and fstat (whose tracepoint the kernel calls
// newfstat) in IG's layout (252 bytes: name [32], nrParams u8, 3 bytes, 6 × {name [32],
// flags u32}) and reports each as "NAME,N,P1:F1,P2:F2...".
func syscallDecl() {
	for _, name := range []string{"openat", "fstat"} {
		d := make([]byte, 252)
		if getSyscallDeclaration(str(name), buf(d)) != 0 {
			result("decl."+name, "error")
			continue
		}
		cut := func(b []byte) string { s, _, _ := strings.Cut(string(b), "\x00"); return s }
		out := cut(d[:32]) + "," + strconv.Itoa(int(d[32]))
		for k := 0; k < int(d[32]); k++ {
			p := d[36+36*k:]
			out += "," + cut(p[:32]) + ":" + strconv.Itoa(int(p[32]))
		}
		result("decl."+name, out)
	}
}

// gadgetStop reads the record the test wrote to the perf event array as IG's traceloop reads
// its records: into a buffer of the record's size, the record at its start.
//
//go:wasmexport gadgetStop
func gadgetStop() int32 {
	if perfR != 0 {
		rec := make([]byte, 12)
		rc := perfReaderRead(perfR, buf(rec))
		result("perf.raw", strconv.Itoa(int(rc))+","+strings.TrimRight(string(rec), "\x00"))
	}
	return 0
}

// mapOfMaps does what IG's traceloop does for each container: a perf event array of its own
// put into the hash of maps "outer" by its handle, then looked up (a new handle) and released.
func mapOfMaps() {
	outer := getMap(str("outer"))
	inner := newMap(str("perf_buffer_1"), 4, 4, 4, 0)
	key := make([]byte, 8)
	key[0], key[1] = 0x92, 0x10 // 4242
	val := make([]byte, 4)
	val[0], val[1], val[2], val[3] = byte(inner), byte(inner>>8), byte(inner>>16), byte(inner>>24)
	result("mom.update", strconv.Itoa(int(mapUpdate(outer, buf(key), buf(val), 1))))
	got := make([]byte, 4)
	rc := mapLookup(outer, buf(key), buf(got))
	h := uint32(got[0]) | uint32(got[1])<<8 | uint32(got[2])<<16 | uint32(got[3])<<24
	result("mom.lookup", strconv.Itoa(int(rc))+","+strconv.FormatBool(h != 0 && h != inner))
	result("mom.release", strconv.Itoa(int(releaseHandle(h))))
}

func main() {}
