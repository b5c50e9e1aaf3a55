package wasm

// Helpers that assemble WebAssembly binaries by hand, for modules a test needs and no SDK
// writes (a guest that loops without calling the host, one that grows its memory at once).

func asmULEB(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func asmSLEB(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// asmVec is a vector of already encoded items.
func asmVec(items ...[]byte) []byte {
	b := asmULEB(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func asmName(s string) []byte { return append(asmULEB(uint64(len(s))), s...) }

func asmSection(id byte, payload []byte) []byte {
	return append(append([]byte{id}, asmULEB(uint64(len(payload)))...), payload...)
}

// asmBody is a function body without locals.
func asmBody(code ...byte) []byte {
	b := append([]byte{0x00}, code...)
	return append(asmULEB(uint64(len(b))), b...)
}

// asmModule is the binary of sections.
func asmModule(sections ...[]byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		m = append(m, s...)
	}
	return m
}
