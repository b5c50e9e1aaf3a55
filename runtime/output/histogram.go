package output

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
)

// A log2 histogram (a field whose Type is decode.HistogramSlotU32 or HistogramSlotU64) is
// a row of counts in JSON and YAML; in a table, where thirty numbers in one cell say little,
// it is drawn as bars, one line per slot up to the last one that counted something:
//
//	latency (µs)
//	           0 -> 1          : 1641     |****************************************|
//	           2 -> 3          : 22       |*                                       |

// histogramBar is the width of the longest bar, the slot with the most.
const histogramBar = 40

// IsHistogram reports whether f is a log2 histogram.
func IsHistogram(f *datasource.Field) bool {
	return f.Type == decode.HistogramSlotU32 || f.Type == decode.HistogramSlotU64
}

// HistogramSlots returns the counts of the histogram f in d, slot by slot.
func HistogramSlots(f *datasource.Field, d *datasource.Data) []uint64 {
	b := f.Bytes(d)
	size := 4
	if f.Type == decode.HistogramSlotU64 {
		size = 8
	}
	slots := make([]uint64, 0, len(b)/size)
	for i := 0; i+size <= len(b); i += size {
		if size == 4 {
			slots = append(slots, uint64(binary.NativeEndian.Uint32(b[i:])))
		} else {
			slots = append(slots, binary.NativeEndian.Uint64(b[i:]))
		}
	}
	return slots
}

// AppendHistogram draws the log2 histogram slots under a title line, name and unit (the
// field's metrics.unit annotation; may be empty).
func AppendHistogram(dst []byte, name, unit string, slots []uint64) []byte {
	dst = append(dst, name...)
	if unit != "" {
		dst = append(dst, " ("...)
		dst = append(dst, unit...)
		dst = append(dst, ')')
	}
	last, most := -1, uint64(0)
	for i, n := range slots {
		if n > 0 {
			last = i
		}
		most = max(most, n)
	}
	if last < 0 {
		return append(dst, ": nothing counted\n"...)
	}
	dst = append(dst, '\n')
	low := func(i int) uint64 {
		if i == 0 {
			return 0
		}
		return 1 << i
	}
	high := func(i int) uint64 { return 1<<(i+1) - 1 }
	width := len(strconv.FormatUint(high(last), 10))
	countWidth := max(len(strconv.FormatUint(most, 10)), 8)
	for i := 0; i <= last; i++ {
		lo, hi := strconv.FormatUint(low(i), 10), strconv.FormatUint(high(i), 10)
		dst = append(dst, strings.Repeat(" ", 8+width-len(lo))...)
		dst = append(dst, lo...)
		dst = append(dst, " -> "...)
		dst = append(dst, hi...)
		dst = append(dst, strings.Repeat(" ", width-len(hi))...)
		dst = append(dst, " : "...)
		n := strconv.FormatUint(slots[i], 10)
		dst = append(dst, n...)
		dst = append(dst, strings.Repeat(" ", countWidth-len(n))...)
		stars := int(float64(slots[i]) / float64(most) * histogramBar)
		dst = append(dst, " |"...)
		dst = append(dst, bytes.Repeat([]byte{'*'}, stars)...)
		dst = append(dst, strings.Repeat(" ", histogramBar-stars)...)
		dst = append(dst, "|\n"...)
	}
	return dst
}
