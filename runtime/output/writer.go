package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// Writer writes the records of one data source. It buffers: call Flush after a batch.
// It is not safe for concurrent use.
type Writer struct {
	mode   Mode
	w      *bufio.Writer
	fm     *format.Formatter
	fields []*datasource.Field
	widths []int // each column's width, in characters
	right  []bool
	// total is the width the table must fit (SetWidth); 0 keeps every value whole.
	total   int
	plan    []step // JSON/YAML nesting
	line    []byte
	scratch []byte
	escaped []byte
	header  bool
}

type step struct {
	open  string // non-empty: open an object with this key
	close bool   // close the current object
	key   string // leaf key
	field *datasource.Field
	// idKey: for gadget_uid/gadget_gid fields, the key of the user/group name printed beside
	// the number in JSON and YAML ("user" beside "uid").
	idKey string
	depth int
}

// New returns a Writer of fields in mode to w.
func New(w io.Writer, mode Mode, fields []*datasource.Field, fm *format.Formatter) *Writer {
	o := &Writer{mode: mode, w: bufio.NewWriterSize(w, 64<<10), fm: fm, fields: fields}
	for _, f := range fields {
		width := len(header(f))
		if v, err := strconv.Atoi(f.Annotations["columns.width"]); err == nil && v > 0 {
			width = v
		} else if f.Kind.Scalar() && width < 7 {
			width = 7
		} else if width < 16 && (f.Kind == datasource.KindCString || f.Kind == datasource.KindString) {
			width = 16
		}
		// A column is never narrower than its header, or every later column would shift.
		width = max(width, len(header(f)))
		o.widths = append(o.widths, width)
		// Numbers align right: plain ones, and foo_raw ones, which show no typedef's meaning.
		right := f.Kind.Scalar() && f.Enum == nil && (f.Type == "" || decode.FormattedSibling(f) != nil)
		switch f.Annotations["columns.alignment"] {
		case "left":
			right = false
		case "right":
			right = true
		}
		o.right = append(o.right, right)
	}
	o.plan = buildPlan(fields)
	return o
}

// AliasAnnotation gives a field a shorter column header than its name (Inspektor Gadget's
// columns.alias): runtime.containerName is headed CONTAINER. JSON keys stay the names.
const AliasAnnotation = "columns.alias"

// header is f's column header, before upper-casing: its alias, else its name.
func header(f *datasource.Field) string {
	if a := f.Annotations[AliasAnnotation]; a != "" {
		return a
	}
	return f.Name
}

// buildPlan orders leaves so that dotted names nest: proc.pid, proc.comm → "proc":{...}.
func buildPlan(fields []*datasource.Field) []step {
	type node struct {
		name     string
		field    *datasource.Field
		children []*node
		index    map[string]*node
	}
	root := &node{index: map[string]*node{}}
	for _, f := range fields {
		parts := strings.Split(f.Name, ".")
		n := root
		for i, p := range parts {
			if i == len(parts)-1 {
				c := &node{name: p, field: f}
				if old, ok := n.index[p]; ok && old.field == nil {
					// A leaf and an object of the same name: keep the leaf under its full name.
					c.name = f.Name
				}
				n.children = append(n.children, c)
				if _, ok := n.index[c.name]; !ok {
					n.index[c.name] = c
				}
				break
			}
			c, ok := n.index[p]
			if !ok || c.field != nil {
				c = &node{name: p, index: map[string]*node{}}
				n.index[p] = c
				n.children = append(n.children, c)
			}
			n = c
		}
	}
	var plan []step
	var walk func(n *node, depth int)
	walk = func(n *node, depth int) {
		// The keys of this object, so that a user or group name beside an id takes a key no
		// other member has (format.IDNameFallback when IDNameKey's is taken).
		keys := make(map[string]bool, len(n.children))
		for _, c := range n.children {
			keys[c.name] = true
		}
		for _, c := range n.children {
			if c.field != nil {
				idKey := format.IDNameKey(c.field, c.name)
				if idKey != "" && keys[idKey] {
					idKey = format.IDNameFallback(c.field, c.name)
					if keys[idKey] {
						idKey = ""
					}
				}
				if idKey != "" {
					keys[idKey] = true
				}
				plan = append(plan, step{key: c.name, field: c.field, depth: depth, idKey: idKey})
				continue
			}
			plan = append(plan, step{open: c.name, depth: depth})
			walk(c, depth+1)
			plan = append(plan, step{close: true, depth: depth})
		}
	}
	walk(root, 0)
	return plan
}

// Write writes one record.
func (o *Writer) Write(d *datasource.Data) error {
	switch o.mode {
	case Columns:
		return o.writeColumns(d)
	case JSON, JSONPretty:
		o.line = o.appendJSON(o.line[:0], d)
		if o.mode == JSONPretty {
			var buf bytes.Buffer
			if err := json.Indent(&buf, o.line, "", "  "); err != nil {
				return err
			}
			buf.WriteByte('\n')
			_, err := o.w.Write(buf.Bytes())
			return err
		}
		o.line = append(o.line, '\n')
		_, err := o.w.Write(o.line)
		return err
	case YAML:
		return o.writeYAML(d)
	}
	return fmt.Errorf("unknown output mode %q", o.mode)
}

// AppendJSON appends d as one compact JSON object (dotted names nested).
func (o *Writer) appendJSON(dst []byte, d *datasource.Data) []byte {
	dst = append(dst, '{')
	first := true
	for _, s := range o.plan {
		if s.close {
			dst = append(dst, '}')
			first = false
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		if s.open != "" {
			dst = format.AppendJSONString(dst, s.open)
			dst = append(dst, ':', '{')
			first = true
			continue
		}
		dst = format.AppendJSONString(dst, s.key)
		dst = append(dst, ':')
		dst = o.fm.AppendJSON(dst, s.field, d)
		if s.idKey != "" {
			// The name key is always there, so every event has the same keys: "uid:N" when
			// /etc/passwd or /etc/group has no name for the id, null when the id is unset.
			dst = append(dst, ',')
			dst = format.AppendJSONString(dst, s.idKey)
			dst = append(dst, ':')
			dst = o.appendIDName(dst, s.field, d)
		}
		first = false
	}
	return append(dst, '}')
}

// appendIDName appends the user or group name of a gadget_uid/gadget_gid field as a JSON
// string ("uid:N" / "gid:N" when the id has no name, as Inspektor Gadget writes it), or null
// when the field is unset.
func (o *Writer) appendIDName(dst []byte, f *datasource.Field, d *datasource.Data) []byte {
	if !f.Static() && !f.IsSet(d) {
		return append(dst, "null"...)
	}
	return format.AppendJSONString(dst, o.fm.IDText(f, d))
}

func (o *Writer) writeYAML(d *datasource.Data) error {
	o.line = append(o.line[:0], "---\n"...)
	for _, s := range o.plan {
		if s.close {
			continue
		}
		for i := 0; i < s.depth; i++ {
			o.line = append(o.line, ' ', ' ')
		}
		if s.open != "" {
			o.line = append(o.line, s.open...)
			o.line = append(o.line, ":\n"...)
			continue
		}
		o.line = append(o.line, s.key...)
		o.line = append(o.line, ": "...)
		o.line = o.fm.AppendJSON(o.line, s.field, d) // JSON scalars are YAML scalars
		o.line = append(o.line, '\n')
		if s.idKey != "" {
			for i := 0; i < s.depth; i++ {
				o.line = append(o.line, ' ', ' ')
			}
			o.line = append(o.line, s.idKey...)
			o.line = append(o.line, ": "...)
			o.line = o.appendIDName(o.line, s.field, d)
			o.line = append(o.line, '\n')
		}
	}
	_, err := o.w.Write(o.line)
	return err
}

// SetWidth fits the table into total characters per line (a terminal's width): the widest
// columns are narrowed first, one character at a time, until the line fits or every column is
// down to a few characters, the last column takes what is left of the line, and a value or
// header longer than its column is cut, its last character replaced by "…", so every row keeps
// the header's alignment. total 0 (a pipe, --wide) keeps every value whole, as long as it is.
// Call it before the first Write.
func (o *Writer) SetWidth(total int) {
	o.total = total
	if total <= 0 || len(o.widths) == 0 {
		return
	}
	const floor = 5 // "1234…": narrower says nothing
	avail := total - (len(o.widths) - 1)
	sum := 0
	for _, w := range o.widths {
		sum += w
	}
	for sum > avail {
		widest := 0
		for i, w := range o.widths {
			if w > o.widths[widest] {
				widest = i
			}
		}
		if o.widths[widest] <= floor {
			break // does not fit even so: lines wrap, columns stay aligned
		}
		o.widths[widest]--
		sum--
	}
	// The last column needs no padding: it may run to the end of the line.
	last := len(o.widths) - 1
	o.widths[last] = max(o.widths[last], avail-(sum-o.widths[last]))
}

// WriteHeader writes the table's header (the field names, or their columns.alias, in capitals) now, once: a run that
// shows no event yet still shows what it will show. Writers of other modes write nothing.
// Write calls it before the first record.
func (o *Writer) WriteHeader() error {
	if o.mode != Columns || o.header {
		return nil
	}
	o.header = true
	o.line = o.line[:0]
	for i, f := range o.fields {
		o.line = o.cell(o.line, []byte(strings.ToUpper(header(f))), i)
	}
	o.line = append(bytes.TrimRight(o.line, " "), '\n')
	_, err := o.w.Write(o.line)
	return err
}

func (o *Writer) writeColumns(d *datasource.Data) error {
	if err := o.WriteHeader(); err != nil {
		return err
	}
	o.line = o.line[:0]
	for i, f := range o.fields {
		o.scratch = o.fm.AppendText(o.scratch[:0], f, d)
		v := o.scratch
		// A comm, path or other string holding control characters (an attacker's file name:
		// "x\n", "\x1b[2J") shows as a $'...' word: a table line stays one line, and the
		// terminal receives no escape sequence.
		if format.NeedsEscape(v) {
			o.escaped = format.AppendEscaped(o.escaped[:0], v)
			v = o.escaped
		}
		o.line = o.cell(o.line, v, i)
	}
	o.line = append(bytes.TrimRight(o.line, " "), '\n')
	_, err := o.w.Write(o.line)
	return err
}

// cell appends v as column i: padded to the column's width (on the left for numbers), cut with
// "…" when SetWidth gave a width v does not fit in, and followed by the column separator.
func (o *Writer) cell(dst, v []byte, i int) []byte {
	width := o.widths[i]
	n := utf8.RuneCount(v)
	if o.total > 0 && n > width {
		// Keep width-1 characters and mark the cut.
		cut, k := 0, 0
		for cut < len(v) && k < width-1 {
			_, size := utf8.DecodeRune(v[cut:])
			cut += size
			k++
		}
		dst = append(dst, v[:cut]...)
		dst = append(dst, "…"...)
		return append(dst, ' ')
	}
	pad := width - n
	if o.right[i] {
		for ; pad > 0; pad-- {
			dst = append(dst, ' ')
		}
		dst = append(dst, v...)
	} else {
		dst = append(dst, v...)
		for ; pad > 0; pad-- {
			dst = append(dst, ' ')
		}
	}
	return append(dst, ' ')
}

// Flush writes what is buffered.
func (o *Writer) Flush() error { return o.w.Flush() }
