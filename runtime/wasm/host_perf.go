package wasm

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf/perf"
	"github.com/tetratelabs/wazero/api"
)

// perfReader is the object behind a perf reader handle.
type perfReader struct {
	r   *perf.Reader
	rec perf.Record
}

func (p *perfReader) Close() error { return p.r.Close() }

func (i *Instance) perf(fn string, h uint32) (*perfReader, bool) {
	e, ok := i.handle(fn, h, kPerfReader)
	if !ok {
		return nil, false
	}
	return e.obj.(*perfReader), true
}

func init() {
	register("newPerfReader", []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "newPerfReader"
		mh, size, ow := uint32(s[0]), int(uint32(s[1])), uint32(s[2]) != 0
		s[0] = 0
		m, ok := i.ebpfMap(fn, mh)
		if !ok {
			return
		}
		r, err := perf.NewReaderWithOptions(m, size, perf.ReaderOptions{Overwritable: ow})
		if err != nil {
			i.bad(fn, "map %s: %v", m.String(), err)
			return
		}
		s[0] = uint64(i.h.add(entry{kind: kPerfReader, obj: &perfReader{r: r}, owned: true}))
	})
	register("perfReaderPause", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		p, ok := i.perf("perfReaderPause", uint32(s[0]))
		s[0] = 1
		if ok {
			if err := p.r.Pause(); err != nil {
				i.bad("perfReaderPause", "%v", err)
				return
			}
			s[0] = 0
		}
	})
	register("perfReaderResume", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		p, ok := i.perf("perfReaderResume", uint32(s[0]))
		s[0] = 1
		if ok {
			if err := p.r.Resume(); err != nil {
				i.bad("perfReaderResume", "%v", err)
				return
			}
			s[0] = 0
		}
	})
	register("perfReaderClose", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = errCode(i.releaseHandle("perfReaderClose", uint32(s[0]), kPerfReader))
	})
	// perfReaderRead writes the next record: 0 ok, 1 error, 2 nothing waiting. To Gadgetry's
	// SDK (a guest that announced itself, or asked for a field copy: SDK v0.3.0 on) the
	// record's length (u32 LE) then the record; to other guests, as Inspektor Gadget's host
	// does, the record alone at the buffer's start (IG's traceloop guest passes a buffer of
	// its record's size), or an error when it does not fit.
	register("perfReaderRead", []api.ValueType{i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "perfReaderRead"
		ph, dst := uint32(s[0]), s[1]
		s[0] = 1
		p, ok := i.perf(fn, ph)
		if !ok {
			return
		}
		b, ok := i.read(mod, fn, dst)
		if !ok {
			return
		}
		p.r.SetDeadline(time.Now())
		err := p.r.ReadInto(&p.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, perf.ErrFlushed) {
			s[0] = 2
			return
		}
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		if i.sdk == "" && !i.legacyFC {
			if len(p.rec.RawSample) > len(b) {
				i.bad(fn, "record of %d bytes does not fit the %d-byte buffer", len(p.rec.RawSample), len(b))
				return
			}
			copy(b, p.rec.RawSample)
			s[0] = 0
			return
		}
		if len(p.rec.RawSample)+4 > len(b) {
			i.bad(fn, "record of %d bytes does not fit the %d-byte buffer (4 go to the length)", len(p.rec.RawSample), len(b))
			return
		}
		binary.LittleEndian.PutUint32(b, uint32(len(p.rec.RawSample)))
		copy(b[4:], p.rec.RawSample)
		s[0] = 0
	})
}
