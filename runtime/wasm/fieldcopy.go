package wasm

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/tetratelabs/wazero/api"
)

// The field copy: a Gadgetry extension of ABI version 1 that lets a guest read a record's
// fields from its own memory instead of with one host call per field.
//
// A guest asks for it with the setConfig import every host has (Inspektor Gadget accepts and
// ignores any key): setConfig("gadgetry.fieldcopy", "v1 ds=D buf=PTR+CAP fields=F1,F2,...",
// 12). This host checks the request and acknowledges it by writing the header (magic, field
// count) into the buffer at once; a host without the extension writes nothing, which is how
// the guest knows to keep reading through host calls. From then on, before each
// dataSourceCallback of data source D into this guest, the host writes the record's values
// of F1, F2... into the buffer (docs/authoring.md, "Reading fields without host calls").
//
// Version 2 adds batches: "v2 ds=D buf=PTR+CAP batch=M fields=F1,F2,..." from a guest that
// exports gadgetryDataSourceBatch(cbID i64, ds i32, n i32) -> i32. The host then calls that
// export once for up to M records of D instead of dataSourceCallback once per record: the
// buffer holds n records one after the other, each with its data handle, a flags word the
// guest sets to drop the record, and its slots. One call into the guest per batch instead of
// per record is what lets a module keep up with the kernel: entering the guest costs more
// than reading a record (docs/RATIONALE.md, "Batched callbacks").
const (
	fieldCopyKey = "gadgetry.fieldcopy"
	// fieldCopyMagic is "GFC1" read as a little-endian u32.
	fieldCopyMagic = 0x31434647
	// fieldCopyMagic2 is "GFC2": a version 2 (batch) buffer.
	fieldCopyMagic2 = 0x32434647
	// batchExport is the guest function a version 2 request needs.
	batchExport = "gadgetryDataSourceBatch"
	// fcMaxBatch bounds a batch.
	fcMaxBatch = 1024
	// fcRecHeader is the size of a batch record's header: data handle (u32), flags (u32).
	fcRecHeader = 8
	// fcDrop is the flag a guest sets in a batch record's header to drop the record.
	fcDrop = 1

	fcHeaderSize = 16
	fcSlotSize   = 16
	// fcMaxFields and fcMaxBuffer bound a request (a guest asks once per data source).
	fcMaxFields = 1024
	fcMaxBuffer = 4 << 20

	// Slot states.
	fcNotCopied = 0 // read it with a host call
	fcScalar    = 1 // the value is the u64 at +8
	fcBytes     = 2 // the bytes are at buffer offset (u32 at +8), length (u32 at +4)

	// fcAliases flags a static field whose bytes overlap another static field of the record
	// (a union member): a guest's Set through it can change other slots.
	fcAliases = 1
	// fcCString flags a char[N] field of the record whose slot holds the whole array (for a
	// guest that announced its SDK version): its text ends at the first NUL.
	fcCString = 2
)

// fieldCopy is one accepted request: the buffer in guest memory and the fields it holds.
type fieldCopy struct {
	ds     *datasource.DataSource
	ptr    uint32
	cap    uint32
	fields []*datasource.Field
	// batch is the most records one call of the batch export takes (version 2); 0 for a
	// version 1 request.
	batch uint32
	// whole: a char[N] field's slot holds its whole array, as fieldGetBuffer of kind bytes
	// returns it, flagged fcCString (a guest that announced its SDK version); else the text
	// up to the first NUL.
	whole bool
	// wb is the write-back of a version 2 copy (writeback.go), nil when none was asked for.
	wb *writeBack
}

// recSize is the size of one record of a batch buffer.
func (fc *fieldCopy) recSize() uint32 { return fcRecHeader + fcSlotSize*uint32(len(fc.fields)) }

// fieldCopies are an instance's accepted requests by data source handle. It lives in the
// instance's callback (fieldCopyCallback), the one place every data callback passes through.
type fieldCopies []*fieldCopy

// fieldCopyCallback wraps the guest's dataSourceCallback once a request was accepted: before
// calling the guest it fills the buffer of the callback's data source with the record.
type fieldCopyCallback struct {
	api.Function
	inst   *Instance
	copies fieldCopies
}

// CallWithStack fills the buffer and calls the guest. The stack holds dataSourceCallback's
// parameters (cbID, ds, data); the instance's mutex is held, as for every guest call.
func (c *fieldCopyCallback) CallWithStack(ctx context.Context, stack []uint64) error {
	if dsh := uint32(stack[1]); dsh < uint32(len(c.copies)) {
		if fc := c.copies[dsh]; fc != nil {
			fc.fill(c.inst, uint32(stack[2]))
		}
	}
	return c.Function.CallWithStack(ctx, stack)
}

// fill writes record dh's values into the buffer. Nothing is allocated: the values are copied
// from the record into guest memory.
func (fc *fieldCopy) fill(i *Instance, dh uint32) {
	e, ok := i.h.get(dh, kData)
	if !ok || e.ds != fc.ds {
		return // an array callback: its records are read with host calls
	}
	buf, ok := i.mod.Memory().Read(fc.ptr, fc.cap)
	if !ok {
		return // cannot happen: memory does not shrink and the buffer was inside it
	}
	fc.slots(buf, fcHeaderSize, uint32(fcHeaderSize+fcSlotSize*len(fc.fields)), e.obj.(*datasource.Data))
	binary.LittleEndian.PutUint32(buf[8:], dh)
}

// fillBatch writes the records of one call of the batch export: their handles and values.
func (fc *fieldCopy) fillBatch(i *Instance, hs []uint32, ds []*datasource.Data) {
	buf, ok := i.mod.Memory().Read(fc.ptr, fc.cap)
	if !ok {
		return
	}
	le := binary.LittleEndian
	le.PutUint32(buf[8:], uint32(len(hs)))
	rs := fc.recSize()
	varOff := fcHeaderSize + fc.batch*rs
	for n, d := range ds {
		rec := fcHeaderSize + uint32(n)*rs
		le.PutUint32(buf[rec:], hs[n])
		le.PutUint32(buf[rec+4:], 0)
		varOff = fc.slots(buf, rec+fcRecHeader, varOff, d)
	}
}

// dropped reports whether the guest set the drop flag of record n of the last batch.
func (fc *fieldCopy) dropped(i *Instance, n int) bool {
	v, ok := i.mod.Memory().ReadUint32Le(fc.ptr + fcHeaderSize + uint32(n)*fc.recSize() + 4)
	return ok && v&fcDrop != 0
}

// slots writes d's values into the slots at buf[at:], the values' bytes from varOff on, and
// returns where the next bytes go.
func (fc *fieldCopy) slots(buf []byte, at, varOff uint32, d *datasource.Data) uint32 {
	le := binary.LittleEndian
	for n, f := range fc.fields {
		s := buf[at+fcSlotSize*uint32(n) : at+fcSlotSize*uint32(n+1)]
		if f.Kind.Scalar() {
			s[0] = fcScalar
			le.PutUint64(s[8:], f.Uint(d))
			continue
		}
		var v []byte
		if fc.whole {
			v = wholeBytes(f, d)
		} else {
			v = f.Bytes(d)
		}
		if uint32(len(v)) > fc.cap-varOff {
			s[0] = fcNotCopied // too long for what is left: the guest asks the host
			continue
		}
		copy(buf[varOff:], v)
		s[0] = fcBytes
		le.PutUint32(s[4:], uint32(len(v)))
		le.PutUint64(s[8:], uint64(varOff))
		varOff += uint32(len(v))
	}
	return varOff
}

// fieldCopyRequest handles setConfig(fieldCopyKey, value): it accepts the request and writes
// the header, or logs why not and returns false (the guest then reads through host calls).
func (i *Instance) fieldCopyRequest(mod api.Module, value string) bool {
	const fn = "setConfig"
	fc, dsh, err := i.parseFieldCopy(mod, value)
	if err != nil {
		i.bad(fn, "%s %q refused: %v", fieldCopyKey, value, err)
		return false
	}
	// The slots hold what fieldGetBuffer returns (fieldBytes): a guest that asks for a copy
	// without having announced its SDK version is Gadgetry's SDK v0.3.0 or v0.4.0.
	fc.whole = i.sdk != ""
	i.legacyFC = i.sdk == ""
	le := binary.LittleEndian
	if fc.batch > 0 {
		buf, _ := mod.Memory().Read(fc.ptr, fcHeaderSize+fc.batch*fc.recSize())
		clear(buf)
		le.PutUint32(buf[0:], fieldCopyMagic2)
		le.PutUint32(buf[4:], uint32(len(fc.fields)))
		// +8 holds the record count of each batch; until the first, the host's capabilities.
		le.PutUint32(buf[8:], fcCapWriteBack)
		le.PutUint32(buf[12:], fc.batch)
		for r := uint32(0); r < fc.batch; r++ {
			at := fcHeaderSize + r*fc.recSize() + fcRecHeader
			for n, f := range fc.fields {
				buf[at+fcSlotSize*uint32(n)+1] = fc.flags(f)
			}
		}
		if int(dsh) >= len(i.batches) {
			i.batches = append(i.batches, make(fieldCopies, int(dsh)+1-len(i.batches))...)
		}
		i.batches[dsh] = fc
		i.log.Debug("wasm field copy", "datasource", fc.ds.Name, "fields", len(fc.fields), "buffer", fc.cap, "batch", fc.batch)
		return true
	}
	hdr, _ := mod.Memory().Read(fc.ptr, fcHeaderSize+fcSlotSize*uint32(len(fc.fields)))
	clear(hdr)
	le.PutUint32(hdr[0:], fieldCopyMagic)
	le.PutUint32(hdr[4:], uint32(len(fc.fields)))
	for n, f := range fc.fields {
		hdr[fcHeaderSize+fcSlotSize*n+1] = fc.flags(f)
	}
	c, ok := i.callback.(*fieldCopyCallback)
	if !ok {
		c = &fieldCopyCallback{Function: i.callback, inst: i}
		i.callback = c
	}
	if int(dsh) >= len(c.copies) {
		c.copies = append(c.copies, make(fieldCopies, int(dsh)+1-len(c.copies))...)
	}
	c.copies[dsh] = fc // a second request for the data source replaces the first
	i.log.Debug("wasm field copy", "datasource", fc.ds.Name, "fields", len(fc.fields), "buffer", fc.cap)
	return true
}

// parseFieldCopy parses and checks "v1 ds=D buf=PTR+CAP fields=F1,F2,..." or
// "v2 ds=D buf=PTR+CAP batch=M fields=F1,F2,...".
func (i *Instance) parseFieldCopy(mod api.Module, value string) (*fieldCopy, uint32, error) {
	words := strings.Fields(value)
	v2 := len(words) == 5 && words[0] == "v2"
	if !v2 && (len(words) != 4 || words[0] != "v1") {
		return nil, 0, fmt.Errorf(`want "v1 ds=D buf=PTR+CAP fields=F1,F2,..." or "v2 ds=D buf=PTR+CAP batch=M fields=F1,F2,..."`)
	}
	get := func(w, key string) (string, error) {
		v, ok := strings.CutPrefix(w, key+"=")
		if !ok {
			return "", fmt.Errorf("word %q: want %s=", w, key)
		}
		return v, nil
	}
	num := parseU32
	v, err := get(words[1], "ds")
	if err != nil {
		return nil, 0, err
	}
	dsh, err := num(v)
	if err != nil {
		return nil, 0, err
	}
	e, ok := i.h.get(dsh, kDataSource)
	if !ok {
		return nil, 0, fmt.Errorf("handle %d is not a data source", dsh)
	}
	fc := &fieldCopy{ds: e.obj.(*datasource.DataSource)}
	if fc.ds.Type != datasource.TypeSingle {
		return nil, 0, fmt.Errorf("data source %q is an array data source (its records are read with host calls)", fc.ds.Name)
	}
	if v, err = get(words[2], "buf"); err != nil {
		return nil, 0, err
	}
	p, c, ok := strings.Cut(v, "+")
	if !ok {
		return nil, 0, fmt.Errorf("buf=%s: want PTR+CAP", v)
	}
	if fc.ptr, err = num(p); err != nil {
		return nil, 0, err
	}
	if fc.cap, err = num(c); err != nil {
		return nil, 0, err
	}
	if v2 {
		if v, err = get(words[3], "batch"); err != nil {
			return nil, 0, err
		}
		if fc.batch, err = num(v); err != nil {
			return nil, 0, err
		}
		if fc.batch == 0 || fc.batch > fcMaxBatch {
			return nil, 0, fmt.Errorf("batch=%d: want 1 to %d", fc.batch, fcMaxBatch)
		}
		if i.batchFn == nil {
			return nil, 0, fmt.Errorf("the module exports no %s(i64, i32, i32) i32", batchExport)
		}
		words = append(words[:3], words[4])
	}
	if v, err = get(words[3], "fields"); err != nil {
		return nil, 0, err
	}
	list := strings.Split(v, ",")
	if v == "" {
		list = nil // a batch without fields: every value is read with host calls
	}
	if len(list) > fcMaxFields {
		return nil, 0, fmt.Errorf("%d fields: at most %d", len(list), fcMaxFields)
	}
	for _, s := range list {
		fh, err := num(s)
		if err != nil {
			return nil, 0, err
		}
		fe, ok := i.h.get(fh, kField)
		if !ok {
			return nil, 0, fmt.Errorf("handle %d is not a field", fh)
		}
		f := fe.obj.(*datasource.Field)
		if f.DataSource() != fc.ds {
			return nil, 0, fmt.Errorf("field %d (%q) belongs to data source %q, not %q", fh, f.Name, f.DataSource().Name, fc.ds.Name)
		}
		fc.fields = append(fc.fields, f)
	}
	need := uint64(fcHeaderSize) + fcSlotSize*uint64(len(fc.fields))
	if v2 {
		need = uint64(fcHeaderSize) + uint64(fc.batch)*uint64(fc.recSize())
	}
	switch {
	case fc.ptr%8 != 0:
		return nil, 0, fmt.Errorf("buffer %#x is not 8-byte aligned", fc.ptr)
	case uint64(fc.cap) < need || fc.cap > fcMaxBuffer:
		return nil, 0, fmt.Errorf("buffer of %d bytes: %d fields need %d to %d", fc.cap, len(fc.fields), need, fcMaxBuffer)
	case uint64(fc.ptr)+uint64(fc.cap) > uint64(mod.Memory().Size()):
		return nil, 0, fmt.Errorf("buffer %#x+%d lies outside guest memory (%d bytes)", fc.ptr, fc.cap, mod.Memory().Size())
	case i.callback == nil:
		return nil, 0, fmt.Errorf("the module exports no dataSourceCallback")
	}
	return fc, dsh, nil
}

// flags returns the flags of f's slot.
func (fc *fieldCopy) flags(f *datasource.Field) byte {
	var b byte
	if aliases(f) {
		b |= fcAliases
	}
	if fc.whole && f.Kind == datasource.KindCString && f.Static() {
		b |= fcCString
	}
	return b
}

// aliases reports whether f is a static field whose bytes overlap another static field's.
func aliases(f *datasource.Field) bool {
	if !f.Static() {
		return false
	}
	for _, o := range f.DataSource().Fields() {
		if o != f && o.Static() && o.Offset() < f.Offset()+f.Size() && f.Offset() < o.Offset()+o.Size() {
			return true
		}
	}
	return false
}
