package wasm

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/tetratelabs/wazero/api"
)

// The write-back: a Gadgetry extension of the version 2 field copy that lets a guest set
// fields of the records of a batch without a host call each. A version 2 acknowledgement
// writes a capabilities word at +8 (fcCapWriteBack: this host takes write-back requests; a
// host before it writes 0 there). The guest then asks, with setConfig("gadgetry.fieldcopy",
// "wb ds=D buf=PTR+CAP fields=F1,F2,...", 12), D a data source it takes in batches and each F
// a field of D (the SDK sends those it added), for a write-back buffer at PTR: the host
// acknowledges with "GWB1" and the field count in its header, and from then on, after each
// call of the batch export for D, reads the buffer's slots of each record the guest kept and
// sets the values it finds there (docs/authoring.md, "Reading fields without host calls").
// The guest clears the slots of a batch before its first callback; the host reads them only
// after the call returned, so they are the guest's own during the call.
const (
	// wbMagic is "GWB1" read as a little-endian u32.
	wbMagic = 0x31425747
	// fcCapWriteBack is the capabilities bit of write-back requests.
	fcCapWriteBack = 1

	// Write-back slot states.
	wbUnset  = 0 // not set through the write-back
	wbScalar = 1 // the value is the u64 at +8
	wbBytes  = 2 // the bytes are at guest address u32 at +8, length u32 at +4
)

// writeBack is an accepted write-back request.
type writeBack struct {
	ptr, cap uint32
	fields   []*datasource.Field
}

// wbRequest handles "wb ds=D buf=PTR+CAP fields=F1,...": it accepts the request and writes the
// header, or logs why not and returns false.
func (i *Instance) wbRequest(mod api.Module, value string) bool {
	wb, fc, err := i.parseWriteBack(mod, value)
	if err != nil {
		i.bad("setConfig", "%s %q refused: %v", fieldCopyKey, value, err)
		return false
	}
	buf, _ := mod.Memory().Read(wb.ptr, wb.cap)
	clear(buf[:16+fc.batch*16*uint32(len(wb.fields))])
	binary.LittleEndian.PutUint32(buf[0:], wbMagic)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(wb.fields)))
	fc.wb = wb
	i.log.Debug("wasm write-back", "datasource", fc.ds.Name, "fields", len(wb.fields))
	return true
}

// parseWriteBack parses and checks a write-back request; it returns it with the version 2
// field copy of its data source.
func (i *Instance) parseWriteBack(mod api.Module, value string) (*writeBack, *fieldCopy, error) {
	words := strings.Fields(value)
	if len(words) != 4 || words[0] != "wb" {
		return nil, nil, fmt.Errorf(`want "wb ds=D buf=PTR+CAP fields=F1,F2,..."`)
	}
	v, ok := strings.CutPrefix(words[1], "ds=")
	if !ok {
		return nil, nil, fmt.Errorf("word %q: want ds=", words[1])
	}
	dsh, err := parseU32(v)
	if err != nil {
		return nil, nil, err
	}
	if dsh >= uint32(len(i.batches)) || i.batches[dsh] == nil {
		return nil, nil, fmt.Errorf("data source %d has no version 2 field copy (ask for it first)", dsh)
	}
	fc := i.batches[dsh]
	wb := &writeBack{}
	if v, ok = strings.CutPrefix(words[2], "buf="); !ok {
		return nil, nil, fmt.Errorf("word %q: want buf=", words[2])
	}
	p, c, ok := strings.Cut(v, "+")
	if !ok {
		return nil, nil, fmt.Errorf("buf=%s: want PTR+CAP", v)
	}
	if wb.ptr, err = parseU32(p); err != nil {
		return nil, nil, err
	}
	if wb.cap, err = parseU32(c); err != nil {
		return nil, nil, err
	}
	if v, ok = strings.CutPrefix(words[3], "fields="); !ok || v == "" {
		return nil, nil, fmt.Errorf("word %q: want fields=F1,F2,...", words[3])
	}
	list := strings.Split(v, ",")
	if len(list) > fcMaxFields {
		return nil, nil, fmt.Errorf("%d fields: at most %d", len(list), fcMaxFields)
	}
	for _, s := range list {
		fh, err := parseU32(s)
		if err != nil {
			return nil, nil, err
		}
		fe, ok := i.h.get(fh, kField)
		if !ok {
			return nil, nil, fmt.Errorf("handle %d is not a field", fh)
		}
		f := fe.obj.(*datasource.Field)
		if f.DataSource() != fc.ds {
			return nil, nil, fmt.Errorf("field %d (%q) belongs to data source %q, not %q", fh, f.Name, f.DataSource().Name, fc.ds.Name)
		}
		wb.fields = append(wb.fields, f)
	}
	need := 16 + uint64(fc.batch)*16*uint64(len(wb.fields))
	switch {
	case wb.ptr%8 != 0:
		return nil, nil, fmt.Errorf("buffer %#x is not 8-byte aligned", wb.ptr)
	case uint64(wb.cap) < need || wb.cap > fcMaxBuffer:
		return nil, nil, fmt.Errorf("buffer of %d bytes: %d fields in batches of %d need %d to %d", wb.cap, len(wb.fields), fc.batch, need, fcMaxBuffer)
	case uint64(wb.ptr)+uint64(wb.cap) > uint64(mod.Memory().Size()):
		return nil, nil, fmt.Errorf("buffer %#x+%d lies outside guest memory (%d bytes)", wb.ptr, wb.cap, mod.Memory().Size())
	}
	return wb, fc, nil
}

// apply sets on record d the values the guest wrote into slots of record n of the last
// batch. A slot the host cannot apply (a bad address, a kind the field does not take) is
// logged as a failed host call would be, and skipped.
func (wb *writeBack) apply(i *Instance, mem api.Memory, buf []byte, n int, d *datasource.Data) {
	le := binary.LittleEndian
	at := 16 + n*16*len(wb.fields)
	for j, f := range wb.fields {
		s := buf[at+16*j : at+16*(j+1)]
		var err error
		switch s[0] {
		case wbUnset:
			continue
		case wbScalar:
			err = f.SetUint(d, le.Uint64(s[8:]))
		case wbBytes:
			ln, p := le.Uint32(s[4:]), le.Uint32(s[8:])
			v, ok := mem.Read(p, ln)
			if !ok {
				i.bad("dataSourceCallback", "write-back of field %q: %#x+%d lies outside guest memory", f.Name, p, ln)
				continue
			}
			err = f.SetBytes(d, v)
		default:
			err = fmt.Errorf("slot state %d", s[0])
		}
		if err != nil {
			i.bad("dataSourceCallback", "write-back of field %q: %v", f.Name, err)
		}
	}
}

// parseU32 parses a decimal u32 of a request.
func parseU32(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a u32", s)
	}
	return uint32(n), nil
}
