package wasmapi

import (
	"encoding/binary"
	"errors"
)

// ErrDrained is returned by PerfReader.Read when no record is waiting.
var ErrDrained = errors.New("perf reader drained")

// PerfReader is a handle to a reader of a BPF perf event array.
type PerfReader uint32

// NewPerfReader reads the perf event array m with per-CPU buffers of size bytes. An
// overwritable reader keeps the newest records (a flight recorder): Pause it before reading.
func NewPerfReader(m Map, size uint32, overwritable bool) (PerfReader, error) {
	var ow uint32
	if overwritable {
		ow = 1
	}
	h := newPerfReader(uint32(m), size, ow)
	if h == 0 {
		return 0, fail("new perf reader")
	}
	return PerfReader(h), nil
}

// Pause stops the kernel from writing to the buffers.
func (r PerfReader) Pause() error { return check(perfReaderPause(uint32(r)), "perf pause") }

// Resume lets the kernel write again.
func (r PerfReader) Resume() error { return check(perfReaderResume(uint32(r)), "perf resume") }

// Close closes the reader.
func (r PerfReader) Close() error { return check(perfReaderClose(uint32(r)), "perf close") }

// Read returns the next record without waiting, or ErrDrained. The host writes the record's
// length as a little-endian u32 and then the record into buf; the result aliases buf. The
// kernel pads each sample so that it and its 4-byte size end on 8 bytes: a record can end
// with up to 7 zero bytes beyond what the program wrote.
func (r PerfReader) Read(buf []byte) ([]byte, error) {
	if len(buf) < 4 {
		return nil, errors.New("perf read: buffer shorter than 4 bytes")
	}
	switch perfReaderRead(uint32(r), bufArg(buf)) {
	case 0:
		n := binary.LittleEndian.Uint32(buf)
		if int(n) > len(buf)-4 {
			return nil, fail("perf read")
		}
		return buf[4 : 4+n], nil
	case 2:
		return nil, ErrDrained
	}
	return nil, fail("perf read")
}
