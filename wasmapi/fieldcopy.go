package wasmapi

import (
	"strconv"
	"unsafe"
)

// The field copy: at the end of gadgetInit the SDK asks the host, for each data source the
// module subscribed to, to copy the fields the module looked up (GetField) into a buffer in
// the module's memory before each callback. Reads of those fields on the callback's record
// then cost no host call. The request goes through setConfig, which every host has; a host
// without the extension (Inspektor Gadget, an older Gadgetry) leaves the buffer untouched, and
// every read goes through the host as before. Protocol: docs/authoring.md, "Reading fields
// without host calls".
//
// Where the host offers it (version 2), the SDK also takes the records in batches: the host
// calls gadgetryDataSourceBatch once for up to fcBatch records, whose values are all in the
// buffer, and the SDK calls the module's callback for each; entering the module once per
// batch instead of once per record is most of what a callback costs.
const (
	fcKey    = "gadgetry.fieldcopy"
	fcMagic  = 0x31434647 // "GFC1"
	fcMagic2 = 0x32434647 // "GFC2"
	// fcBatch is the most records one batch call holds: as many as the host drains at once
	// (each call into the module costs a goroutine of the host's, which watches for its
	// termination).
	fcBatch = 256
	// fcBatchVarBytes is the room for string and bytes values of a whole batch.
	fcBatchVarBytes = 256 << 10
	// fcMaxBuffer is the largest buffer the host takes: a batch of many fields is smaller.
	fcMaxBuffer = 4 << 20

	// fcVarBytes is the room for string and bytes values after the slots; a value that does
	// not fit in what is left is read with a host call.
	fcVarBytes = 4096
	// fcMaxHandle bounds the handles the SDK indexes tables by (a field with a larger handle
	// is read with host calls).
	fcMaxHandle = 1 << 16

	fcNotCopied = 0
	fcScalar    = 1
	fcBytes     = 2
	fcAliases   = 1 // slot flag: a Set through this field can change others
	fcCString   = 2 // slot flag: a char[N] field's whole array, whose text ends at its first NUL
)

// fcSource is the field copy of one data source.
type fcSource struct {
	ds     DataSource
	fields []Field  // looked up with GetField, in slot order
	words  []uint64 // the buffer: header (2 words), 2 words a slot, then the values' bytes
	bytes  []byte   // the same memory
	active bool     // the host acknowledged the request
	// batch: the host acknowledged a version 2 request; the buffer holds up to batchN
	// records, each a header word (data handle, flags) and its slots.
	batch  bool
	batchN int
	// base is the word where the slots of the record in the buffer begin (2 in version 1;
	// in a batch, the running record's).
	base int
	// wb is the write-back of the values set on the fields the module added (writeback.go),
	// nil when the host does not take them.
	wb *wbSource
}

// fcField says where a field's value is.
type fcField struct {
	ds    DataSource // looked up with GetField on ds (0: not looked up)
	src   *fcSource  // copied into src's buffer (nil: read with host calls)
	slot  int32
	added bool // added by this module (AddField): it shares bytes with no other field
	// addDS and addKind: the data source and kind of an added field.
	addDS   DataSource
	addKind FieldKind
	// wbSrc: the field's values are set through this write-back (nil: with host calls).
	wbSrc  *wbSource
	wbSlot int32
}

var (
	fcSources []*fcSource // by data source handle: those subscribed with Subscribe
	fcFields  []fcField   // by field handle
	// fcCur is the source whose buffer holds the record of the running callback, fcData;
	// nil when no buffer does.
	fcCur  *fcSource
	fcData Data
)

// fcEntry returns the entry of field f, or nil for a handle too large to index.
func fcEntry(f Field) *fcField {
	if uint32(f) >= fcMaxHandle {
		return nil
	}
	if n := int(f) + 1; len(fcFields) < n {
		fcFields = append(fcFields, make([]fcField, n-len(fcFields))...)
	}
	return &fcFields[f]
}

// fcSubscribed notes that ds has a subscription of single records.
func fcSubscribed(ds DataSource) {
	if uint32(ds) >= fcMaxHandle {
		return
	}
	if n := int(ds) + 1; len(fcSources) < n {
		fcSources = append(fcSources, make([]*fcSource, n-len(fcSources))...)
	}
	if fcSources[ds] == nil {
		fcSources[ds] = &fcSource{ds: ds}
	}
}

// fcLookedUp notes a field looked up with GetField on ds.
func fcLookedUp(ds DataSource, f Field) {
	if e := fcEntry(f); e != nil && !e.added {
		e.ds = ds
	}
}

// fcAdded notes a field this module added to ds.
func fcAdded(ds DataSource, f Field, kind FieldKind) {
	if e := fcEntry(f); e != nil {
		e.added, e.ds, e.addDS, e.addKind = true, 0, ds, kind
	}
}

// fcRegister asks the host for the field copy of every data source subscribed to: version 2
// (batches) first, then version 1. It runs once, after the module's OnInit hooks succeeded.
func fcRegister() {
	for _, src := range fcSources {
		if src == nil {
			continue
		}
		for h := range fcFields {
			if e := &fcFields[h]; e.ds == src.ds && e.src == nil {
				e.src, e.slot = src, int32(len(src.fields))
				src.fields = append(src.fields, Field(h))
			}
		}
		nf := len(src.fields)
		n := fcBatch
		for n > 1 && 16+n*(8+16*nf)+fcBatchVarBytes > fcMaxBuffer {
			n /= 2
		}
		if fcRequest(src, 16+n*(8+16*nf)+fcBatchVarBytes, n) {
			src.active, src.batch, src.batchN = true, true, n
			wbRegister(src)
			continue
		}
		if nf > 0 && fcRequest(src, 16+16*nf+fcVarBytes, 0) {
			src.active, src.base = true, 2
			continue
		}
		src.words, src.bytes = nil, nil
		for _, f := range src.fields {
			fcFields[f].src = nil
		}
	}
}

// fcRequest asks the host to copy src's fields into a new buffer of size bytes, in batches of
// batch records (version 2) or one record at a time (batch 0, version 1), and reports whether
// the host acknowledged it.
func fcRequest(src *fcSource, size, batch int) bool {
	src.words = make([]uint64, size/8)
	src.bytes = unsafe.Slice((*byte)(unsafe.Pointer(&src.words[0])), size)
	req := make([]byte, 0, 80+8*len(src.fields))
	if batch > 0 {
		req = append(req, "v2 ds="...)
	} else {
		req = append(req, "v1 ds="...)
	}
	req = strconv.AppendUint(req, uint64(src.ds), 10)
	req = append(req, " buf="...)
	req = strconv.AppendUint(req, uint64(uintptr(unsafe.Pointer(&src.words[0]))), 10)
	req = append(req, '+')
	req = strconv.AppendUint(req, uint64(size), 10)
	if batch > 0 {
		req = append(req, " batch="...)
		req = strconv.AppendUint(req, uint64(batch), 10)
	}
	req = append(req, " fields="...)
	for n, f := range src.fields {
		if n > 0 {
			req = append(req, ',')
		}
		req = strconv.AppendUint(req, uint64(f), 10)
	}
	rc := setConfig(strArg(fcKey), bufArg(req), uint32(KindString))
	keepBuf(req)
	// A host without the extension (or this version of it) returns 0 (or 1, an older
	// Gadgetry) and writes nothing.
	magic := uint32(fcMagic)
	if batch > 0 {
		magic = fcMagic2
	}
	return rc == 0 && uint32(src.words[0]) == magic && src.words[0]>>32 == uint64(len(src.fields))
}

// dispatchBatch runs callback cbID on each of the n records of ds the host put in the buffer
// and sets the drop flag of those it dropped.
func dispatchBatch(cbID uint64, ds, n uint32) uint32 {
	if uint32(ds) >= uint32(len(fcSources)) || fcSources[ds] == nil || !fcSources[ds].batch || int(n) > fcSources[ds].batchN {
		Log(LevelError, "gadgetryDataSourceBatch: no batch buffer for this data source")
		return 1
	}
	src := fcSources[ds]
	rec := 1 + 2*len(src.fields) // words a record takes: its header, two per slot
	wb := src.wb
	if wb != nil {
		wb.begin(int(n))
	}
	var single func(DataSource, Data) error
	if cbID < uint64(len(callbacks)) {
		single = callbacks[cbID].single
	}
	for k := 0; k < int(n); k++ {
		hdr := 2 + k*rec
		fcCur, fcData, src.base = src, Data(uint32(src.words[hdr])), hdr+1
		if wb != nil {
			wbCur, wbData, wb.base = wb, fcData, 2+k*2*len(wb.fields)
		}
		var drop bool
		if single != nil {
			// The callback itself, not dispatch: in a guest each call's frame is cleared on
			// entry, and this runs for every record.
			if err := single(DataSource(ds), fcData); err != nil {
				drop = callbackError(err) == 1
			}
			fcCur = nil
		} else {
			drop = dispatch(cbID, ds, uint32(src.words[hdr]), true) == 1
		}
		if drop {
			src.words[hdr] |= 1 << 32
		}
	}
	fcCur, wbCur = nil, nil
	return 0
}

// fcEnter starts a callback of ds with record d: the buffer holds d when the host filled it
// for this callback.
func fcEnter(ds DataSource, d Data) {
	fcCur = nil
	if uint32(ds) >= uint32(len(fcSources)) {
		return
	}
	src := fcSources[ds]
	if src == nil || !src.active || src.batch || uint32(src.words[1]) != uint32(d) {
		return
	}
	// Consumed: a later callback the host did not fill cannot be taken for this one.
	src.words[1] = 0
	fcCur, fcData = src, d
}

// fcSlot returns the slot word of f on record d, or ok=false when the value is not there.
func fcSlot(f Field, d Data) (src *fcSource, slot int32, ok bool) {
	src = fcCur
	if src == nil || d != fcData || uint32(f) >= uint32(len(fcFields)) {
		return nil, 0, false
	}
	e := &fcFields[f]
	if e.src != src {
		return nil, 0, false
	}
	return src, e.slot, true
}

// fcScalarOf returns a scalar field's value from the buffer.
func fcScalarOf(f Field, d Data) (uint64, bool) {
	src, slot, ok := fcSlot(f, d)
	if !ok || byte(src.words[src.base+2*int(slot)]) != fcScalar {
		return 0, false
	}
	return src.words[src.base+1+2*int(slot)], true
}

// fcBytesOf returns a string or bytes field's value from the buffer (aliasing it: valid until
// the callback returns); with text, a char[N] field's text up to its first NUL instead of its
// whole array.
func fcBytesOf(f Field, d Data, text bool) ([]byte, bool) {
	src, slot, ok := fcSlot(f, d)
	if !ok {
		return nil, false
	}
	w := src.words[src.base+2*int(slot)]
	if byte(w) != fcBytes {
		return nil, false
	}
	off, n := uint32(src.words[src.base+1+2*int(slot)]), uint32(w>>32)
	v := src.bytes[off : off+n : off+n]
	if text && byte(w>>8)&fcCString != 0 {
		for k, c := range v {
			if c == 0 {
				return v[:k:k], true
			}
		}
	}
	return v, true
}

// fcSet notes that the module set f on record d: the buffer's value of f, and of every field
// that may share its bytes, is stale for the rest of the callback.
func fcSet(f Field, d Data) {
	if fcCur == nil || d != fcData {
		return
	}
	if uint32(f) < uint32(len(fcFields)) {
		e := &fcFields[f]
		if e.added {
			return // its own value, in no slot
		}
		if e.src == fcCur && byte(fcCur.words[fcCur.base+2*int(e.slot)]>>8)&fcAliases == 0 {
			fcCur.words[fcCur.base+2*int(e.slot)] &^= 0xff // fcNotCopied
			return
		}
	}
	fcCur = nil // a field that may overlap others: read everything from the host
}
