package wasmapi

import (
	"strconv"
	"unsafe"
)

// The write-back (SDK v0.6.0): where the host offers it, the values a callback sets on the
// fields the module added (AddField) to a data source it takes in batches are written into
// the module's memory instead of with a host call each, and the host applies them to the
// records after the batch call returns. Protocol: docs/authoring.md, "Reading fields without
// host calls" (write-back).
const (
	wbMagic = 0x31425747 // "GWB1"
	// fcCapWriteBack is the bit of the capabilities word a version 2 acknowledgement writes at
	// +8 when the host takes write-back requests.
	fcCapWriteBack = 1
	// wbArenaBytes is the room for the string and bytes values set in one batch; a value that
	// does not fit what is left is set with a host call.
	wbArenaBytes = 256 << 10

	wbUnset  = 0
	wbScalar = 1
	wbBytes  = 2
)

// wbSource is the write-back of one data source, beside its version 2 field copy.
type wbSource struct {
	fields []Field  // added with AddField on the data source, in slot order
	words  []uint64 // header (2 words), then per record of a batch 2 words a field
	arena  []byte   // string and bytes values of the running batch (fixed capacity)
	used   int      // arena bytes used in the running batch
	base   int      // word where the running record's slots begin
	kinds  []FieldKind
}

var (
	// wbCur is the write-back of the running batch record, wbData; nil when none. Unlike
	// fcCur it stays for the whole callback: a value set through it must be the one read back
	// and the one the host applies.
	wbCur  *wbSource
	wbData Data
)

// wbRegister asks the host to take the values set on src's added fields back from the
// module's memory, when the host said it can (the capabilities word of its version 2
// acknowledgement).
func wbRegister(src *fcSource) {
	if uint32(src.words[1])&fcCapWriteBack == 0 {
		return
	}
	wb := &wbSource{}
	for h := range fcFields {
		if e := &fcFields[h]; e.added && e.addDS == src.ds && e.addKind != 0 {
			wb.fields = append(wb.fields, Field(h))
			wb.kinds = append(wb.kinds, e.addKind)
		}
	}
	if len(wb.fields) == 0 {
		return
	}
	size := 16 + src.batchN*16*len(wb.fields)
	wb.words = make([]uint64, size/8)
	req := make([]byte, 0, 80+8*len(wb.fields))
	req = append(req, "wb ds="...)
	req = strconv.AppendUint(req, uint64(src.ds), 10)
	req = append(req, " buf="...)
	req = strconv.AppendUint(req, uint64(uintptr(unsafe.Pointer(&wb.words[0]))), 10)
	req = append(req, '+')
	req = strconv.AppendUint(req, uint64(size), 10)
	req = append(req, " fields="...)
	for n, f := range wb.fields {
		if n > 0 {
			req = append(req, ',')
		}
		req = strconv.AppendUint(req, uint64(f), 10)
	}
	rc := setConfig(strArg(fcKey), bufArg(req), uint32(KindString))
	keepBuf(req)
	if rc != 0 || uint32(wb.words[0]) != wbMagic || wb.words[0]>>32 != uint64(len(wb.fields)) {
		return
	}
	wb.arena = make([]byte, wbArenaBytes)
	for n, f := range wb.fields {
		fcFields[f].wbSrc, fcFields[f].wbSlot = wb, int32(n)
	}
	src.wb = wb
}

// wbBegin clears the slots of a batch of n records.
func (wb *wbSource) begin(n int) {
	clear(wb.words[2 : 2+n*2*len(wb.fields)])
	wb.used = 0
}

// wbEntry returns the write-back slot word index of f on record d, or -1.
func wbEntry(f Field, d Data) int {
	if wbCur == nil || d != wbData || uint32(f) >= uint32(len(fcFields)) {
		return -1
	}
	e := &fcFields[f]
	if e.wbSrc != wbCur {
		return -1
	}
	return wbCur.base + 2*int(e.wbSlot)
}

// wbSetScalar writes v as f's value on d into the write-back and reports whether it did.
func wbSetScalar(f Field, d Data, kind FieldKind, v uint64) bool {
	at := wbEntry(f, d)
	if at < 0 {
		return false
	}
	if !scalarKind(kind) || !scalarKind(wbCur.kinds[fcFields[f].wbSlot]) {
		wbCur.words[at] = wbUnset // the host call reports the mismatch
		return false
	}
	wbCur.words[at], wbCur.words[at+1] = wbScalar, v
	return true
}

// wbSetBytes copies v, f's value on d, into the write-back and reports whether it did.
func wbSetBytes(f Field, d Data, kind FieldKind, v []byte) bool {
	at := wbEntry(f, d)
	if at < 0 {
		return false
	}
	wb := wbCur
	if scalarKind(kind) || scalarKind(wb.kinds[fcFields[f].wbSlot]) || len(v) > len(wb.arena)-wb.used {
		wb.words[at] = wbUnset // set with a host call, which a later write-back must not undo
		return false
	}
	off := wb.used
	wb.used += copy(wb.arena[off:], v)
	p := uint64(0)
	if len(v) > 0 {
		p = uint64(uintptr(unsafe.Pointer(&wb.arena[off])))
	}
	wb.words[at], wb.words[at+1] = wbBytes|uint64(len(v))<<32, p
	return true
}

// wbScalarOf returns the value set on f for d in this callback, if any.
func wbScalarOf(f Field, d Data) (uint64, bool) {
	at := wbEntry(f, d)
	if at < 0 || byte(wbCur.words[at]) != wbScalar {
		return 0, false
	}
	return wbCur.words[at+1], true
}

// wbBytesOf returns the bytes set on f for d in this callback, if any (aliasing the arena).
func wbBytesOf(f Field, d Data) ([]byte, bool) {
	at := wbEntry(f, d)
	if at < 0 || byte(wbCur.words[at]) != wbBytes {
		return nil, false
	}
	n := int(wbCur.words[at] >> 32)
	if n == 0 {
		return wbCur.arena[:0:0], true
	}
	off := int(uintptr(wbCur.words[at+1]) - uintptr(unsafe.Pointer(&wbCur.arena[0])))
	return wbCur.arena[off : off+n : off+n], true
}

// scalarKind reports whether k is a number or a bool.
func scalarKind(k FieldKind) bool { return k >= KindBool && k <= KindFloat64 }
