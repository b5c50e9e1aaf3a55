// Package stopcheck rewrites a WebAssembly module so that the host can stop it while it runs.
//
// Instrument adds a mutable i32 global, exported as [Export], and a check of it at the entry of
// every function and the head of every loop: when the global is not zero the check executes
// `unreachable`, so the call traps. Those are the only places where a guest can spend unbounded
// time without calling the host (a loop, or a recursion that branches), so a guest whose
// global is set stops within one loop iteration or one call.
//
// The check is one load and one branch. wazero's own means, WithCloseOnContextDone, costs
// more on a host that calls the guest for every batch of records: a goroutine per call that
// watches the context, and an exit from the guest's code into Go at every loop iteration
// (docs/RATIONALE.md, "Stopping a guest").
package stopcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Export is the name under which an instrumented module exports its stop global.
const Export = "gadgetry.stop"

// Section IDs of the binary format.
const (
	secCustom    = 0
	secImport    = 2
	secGlobal    = 6
	secExport    = 7
	secCode      = 10
	secDataCount = 12
	secTag       = 13
)

// order is the position each known section must take in a module.
var order = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, secTag: 6, secGlobal: 7, secExport: 8, 8: 9, 9: 10, secDataCount: 11, secCode: 12, 11: 13}

type section struct {
	id      byte
	payload []byte
}

// Instrument returns a copy of module with the stop global and its checks. It fails, leaving
// module as it is, on a module it cannot parse: a malformed one, or one using instructions of
// a proposal it does not know (the error names the opcode and its offset).
func Instrument(module []byte) ([]byte, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly binary (no \\0asm magic)")
	}
	if v := binary.LittleEndian.Uint32(module[4:8]); v != 1 {
		return nil, fmt.Errorf("binary format version %d, want 1", v)
	}
	var secs []section
	r := &reader{b: module, off: 8}
	for !r.done() {
		id := r.byte()
		n := r.u32()
		p := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		secs = append(secs, section{id, p})
	}
	var imported, defined uint32
	for _, s := range secs {
		switch s.id {
		case secImport:
			n, err := importedGlobals(s.payload)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			imported = n
		case secGlobal:
			sr := &reader{b: s.payload}
			defined = sr.u32()
			if sr.err != nil {
				return nil, fmt.Errorf("global section: %w", sr.err)
			}
		case secExport:
			if err := checkExports(s.payload); err != nil {
				return nil, err
			}
		}
	}
	g := imported + defined
	check := append(append([]byte{0x23}, uleb(uint64(g))...), 0x04, 0x40, 0x00, 0x0b)

	out := bytes.NewBuffer(make([]byte, 0, len(module)+len(module)/16+64))
	out.Write(module[:8])
	global := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // mut i32, i32.const 0, end
	export := append(name(Export), 0x03)
	export = append(export, uleb(uint64(g))...)
	wroteGlobal, wroteExport := false, false
	for _, s := range secs {
		pos, known := order[s.id]
		if known && !wroteGlobal && pos > order[secGlobal] {
			writeSection(out, secGlobal, vec(1, nil, global))
			wroteGlobal = true
		}
		if known && !wroteExport && pos > order[secExport] {
			writeSection(out, secExport, vec(1, nil, export))
			wroteExport = true
		}
		switch s.id {
		case secGlobal:
			p, err := appendEntry(s.payload, global)
			if err != nil {
				return nil, fmt.Errorf("global section: %w", err)
			}
			writeSection(out, s.id, p)
			wroteGlobal = true
		case secExport:
			p, err := appendEntry(s.payload, export)
			if err != nil {
				return nil, fmt.Errorf("export section: %w", err)
			}
			writeSection(out, s.id, p)
			wroteExport = true
		case secCode:
			p, err := instrumentCode(s.payload, check)
			if err != nil {
				return nil, err
			}
			writeSection(out, s.id, p)
		default:
			writeSection(out, s.id, s.payload)
		}
	}
	if !wroteGlobal {
		writeSection(out, secGlobal, vec(1, nil, global))
	}
	if !wroteExport {
		writeSection(out, secExport, vec(1, nil, export))
	}
	return out.Bytes(), nil
}

// importedGlobals counts the globals among a module's imports.
func importedGlobals(p []byte) (uint32, error) {
	r := &reader{b: p}
	var globals uint32
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.skipName()
		r.skipName()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.byte()
			r.skipLimits()
		case 0x02: // memory: limits
			r.skipLimits()
		case 0x03: // global: value type, mutability
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			if r.err == nil {
				return 0, fmt.Errorf("import kind 0x%02x unknown", kind)
			}
		}
	}
	return globals, r.err
}

// checkExports refuses a module that already exports the name Instrument would add.
func checkExports(p []byte) error {
	r := &reader{b: p}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		l := r.u32()
		nm := r.bytes(int(l))
		r.byte()
		r.u32()
		if r.err == nil && string(nm) == Export {
			return fmt.Errorf("the module already exports %q", Export)
		}
	}
	if r.err != nil {
		return fmt.Errorf("export section: %w", r.err)
	}
	return nil
}

// appendEntry adds entry at the end of the vector that p holds.
func appendEntry(p, entry []byte) ([]byte, error) {
	r := &reader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	return vec(n+1, p[r.off:], entry), nil
}

// instrumentCode puts check at the entry of every function body in the code section p and
// after the block type of every loop.
func instrumentCode(p, check []byte) ([]byte, error) {
	r := &reader{b: p}
	n := r.u32()
	out := bytes.NewBuffer(make([]byte, 0, len(p)+len(p)/8))
	out.Write(uleb(uint64(n)))
	var body bytes.Buffer
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		b := r.bytes(int(size))
		if r.err != nil {
			break
		}
		body.Reset()
		if err := instrumentBody(&body, b, check); err != nil {
			return nil, fmt.Errorf("code section: function body %d: %w", i, err)
		}
		out.Write(uleb(uint64(body.Len())))
		out.Write(body.Bytes())
	}
	if r.err != nil {
		return nil, fmt.Errorf("code section: %w", r.err)
	}
	if !r.done() {
		return nil, errors.New("code section: bytes after the last function body")
	}
	return out.Bytes(), nil
}

func instrumentBody(out *bytes.Buffer, b, check []byte) error {
	r := &reader{b: b}
	for n := r.u32(); n > 0 && r.err == nil; n-- { // locals: count, type
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return fmt.Errorf("locals: %w", r.err)
	}
	out.Write(b[:r.off])
	out.Write(check)
	from := r.off
	for !r.done() {
		at := r.off
		op := r.byte()
		isLoop := op == 0x03
		if err := skipImmediates(r, op); err != nil {
			return fmt.Errorf("at byte %d: %w", at, err)
		}
		if r.err != nil {
			return fmt.Errorf("at byte %d (opcode 0x%02x): %w", at, op, r.err)
		}
		if isLoop {
			out.Write(b[from:r.off])
			out.Write(check)
			from = r.off
		}
	}
	out.Write(b[from:])
	return nil
}

// skipImmediates reads the immediates of the instruction whose first byte op was just read.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06: // block, loop, if, try: block type
		r.s64()
	case op == 0x1f: // try_table: block type, catch clauses
		r.s64()
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			switch k := r.byte(); k {
			case 0x00, 0x01: // catch, catch_ref: tag, label
				r.u32()
				r.u32()
			case 0x02, 0x03: // catch_all, catch_all_ref: label
				r.u32()
			default:
				return fmt.Errorf("try_table catch kind 0x%02x unknown", k)
			}
		}
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0a || op == 0x0b || op == 0x0f || op == 0x19 ||
		op == 0x1a || op == 0x1b || op == 0xd1 || (op >= 0x45 && op <= 0xc4):
		// no immediate
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 ||
		op == 0x18 || (op >= 0x20 && op <= 0x26) || op == 0xd2:
		r.u32() // one index: tag, label, function, local, global, table
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect: type, table
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow: memory index
		r.u32()
	case op == 0x41:
		r.s64()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null: heap type
		r.s64()
	case op == 0xfc:
		return skipFC(r)
	case op == 0xfd:
		return skipFD(r)
	case op == 0xfe:
		return skipFE(r)
	default:
		return fmt.Errorf("opcode 0x%02x unknown", op)
	}
	return nil
}

// skipFC reads a 0xFC-prefixed instruction: saturating truncations, bulk memory and tables.
func skipFC(r *reader) error {
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8: // memory.init: data, memory
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy: two memories
		r.u32()
		r.u32()
	case sub == 11: // memory.fill
		r.u32()
	case sub == 12: // table.init: element, table
		r.u32()
		r.u32()
	case sub == 13: // elem.drop
		r.u32()
	case sub == 14: // table.copy
		r.u32()
		r.u32()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.u32()
	default:
		return fmt.Errorf("opcode 0xfc %d unknown", sub)
	}
	return nil
}

// skipFD reads a 0xFD-prefixed (SIMD) instruction.
func skipFD(r *reader) error {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads and stores
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 275:
	default:
		return fmt.Errorf("opcode 0xfd %d unknown", sub)
	}
	return nil
}

// skipFE reads a 0xFE-prefixed (threads) instruction.
func skipFE(r *reader) error {
	switch sub := r.u32(); {
	case sub == 3: // atomic.fence
		r.byte()
	case sub <= 2 || (sub >= 0x10 && sub <= 0x4e):
		r.memarg()
	default:
		return fmt.Errorf("opcode 0xfe %d unknown", sub)
	}
	return nil
}

func writeSection(out *bytes.Buffer, id byte, p []byte) {
	out.WriteByte(id)
	out.Write(uleb(uint64(len(p))))
	out.Write(p)
}

// vec is a vector of n entries: those already encoded in rest, then entry.
func vec(n uint32, rest, entry []byte) []byte {
	b := uleb(uint64(n))
	b = append(b, rest...)
	return append(b, entry...)
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// reader decodes the binary format; its first error sticks and later reads return zero.
type reader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("unexpected end")

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errShort
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = errShort
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// leb reads an LEB128 number of at most max bytes, returning its low 64 bits.
func (r *reader) leb(max int) uint64 {
	var v uint64
	for i := 0; i < max; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("LEB128 number too long")
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(5)) }
func (r *reader) s64()        { r.leb(10) }

func (r *reader) skipName() { r.bytes(int(r.u32())) }

func (r *reader) skipLimits() {
	flags := r.byte()
	r.leb(10)
	if flags&1 != 0 {
		r.leb(10)
	}
}

// memarg reads alignment (with the multi-memory flag, a memory index) and offset.
func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.u32()
	}
	r.leb(10)
}
