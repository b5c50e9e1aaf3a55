package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// arrayPrinter prints the arrays of an array data source (an iterator's snapshot, a map's
// dumps), one block per array:
//
//	columns     a table with its header (arrays apart by a blank line; an empty array prints nothing)
//	json        one JSON array per line
//	jsonpretty  an indented JSON array
//	yaml        one document per array, holding a list of records ("--- []" when empty)
//
// Records are rendered by an output.Writer into a buffer and assembled here, so arrays are
// formatted exactly like single records. It runs on the run's stream goroutine, holding the
// output's lock.
type arrayPrinter struct {
	o      *cliOutput
	fields []*datasource.Field
	flts   []*filter.Filter
	fm     *format.Formatter
	buf    bytes.Buffer
	rec    *output.Writer // json and yaml: renders records into buf
	tables int
}

func (o *cliOutput) initArray(ds *datasource.DataSource, fields []*datasource.Field, flts []*filter.Filter, fm *format.Formatter) {
	p := &arrayPrinter{o: o, fields: fields, flts: flts, fm: fm}
	switch o.mode {
	case output.JSON, output.JSONPretty:
		p.rec = output.New(&p.buf, output.JSON, fields, fm)
	case output.YAML:
		p.rec = output.New(&p.buf, output.YAML, fields, fm)
	}
	// A writer for the summary record and flushes; records go through print.
	o.writers = append(o.writers, output.New(o.w, o.mode, fields, fm))
	ds.SubscribeArray(1000, func(_ *datasource.DataSource, arr []*datasource.Data) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		if err := p.print(arr); err != nil && o.err == nil {
			o.err = fmt.Errorf("writing output: %w", err)
		}
		return nil
	})
}

func (p *arrayPrinter) print(arr []*datasource.Data) error {
	p.o.flushLocked() // records of other data sources read before this array come first
	p.buf.Reset()
	if p.o.mode == output.Columns && slices.ContainsFunc(p.fields, output.IsHistogram) {
		return p.printHistograms(arr)
	}
	if p.o.mode == output.Columns {
		w := output.New(&p.buf, output.Columns, p.fields, p.fm) // a header per table
		w.SetWidth(p.o.width)
		n := 0
		for _, d := range arr {
			if matchAll(p.flts, d) {
				if err := w.Write(d); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return nil
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if p.tables++; p.tables > 1 {
			if _, err := p.o.w.Write([]byte("\n")); err != nil {
				return err
			}
		}
		_, err := p.o.w.Write(p.buf.Bytes())
		return err
	}
	for _, d := range arr {
		if matchAll(p.flts, d) {
			if err := p.rec.Write(d); err != nil {
				return err
			}
		}
	}
	if err := p.rec.Flush(); err != nil {
		return err
	}
	var out []byte
	switch p.o.mode {
	case output.YAML:
		out = yamlList(p.buf.Bytes())
	default:
		// Compact records, one per line: join them into one array.
		out = append(out, '[')
		recs := bytes.TrimSuffix(p.buf.Bytes(), []byte("\n"))
		if len(recs) > 0 {
			out = append(out, bytes.ReplaceAll(recs, []byte("\n"), []byte(","))...)
		}
		out = append(out, ']')
		if p.o.mode == output.JSONPretty {
			var ind bytes.Buffer
			if err := json.Indent(&ind, out, "", "  "); err != nil {
				return err
			}
			out = ind.Bytes()
		}
		out = append(out, '\n')
	}
	_, err := p.o.w.Write(out)
	return err
}

// yamlList turns YAML documents of one record each ("---\nkey: v\n...") into one document
// holding a list of them.
func yamlList(docs []byte) []byte {
	out := []byte("---")
	parts := bytes.Split(docs, []byte("---\n"))
	n := 0
	for _, doc := range parts {
		if len(doc) == 0 {
			continue
		}
		if n == 0 {
			out = append(out, '\n')
		}
		n++
		for i, line := range bytes.Split(bytes.TrimSuffix(doc, []byte("\n")), []byte("\n")) {
			if i == 0 {
				out = append(out, "- "...)
			} else {
				out = append(out, "  "...)
			}
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	if n == 0 {
		out = append(out, " []\n"...)
	}
	return out
}

// printHistograms prints, in a table's place, each record of an array whose fields include
// log2 histograms: a line naming the record by its other fields (name=value), then each
// histogram drawn as bars (output.AppendHistogram); records apart by a blank line.
func (p *arrayPrinter) printHistograms(arr []*datasource.Data) error {
	var out []byte
	for _, d := range arr {
		if !matchAll(p.flts, d) {
			continue
		}
		if len(out) > 0 {
			out = append(out, '\n')
		}
		var key []byte
		for _, f := range p.fields {
			if output.IsHistogram(f) {
				continue
			}
			if len(key) > 0 {
				key = append(key, ' ')
			}
			key = append(key, f.Name...)
			key = append(key, '=')
			key = p.fm.AppendText(key, f, d)
		}
		if len(key) > 0 {
			out = append(append(out, key...), '\n')
		}
		for _, f := range p.fields {
			if output.IsHistogram(f) {
				out = output.AppendHistogram(out, f.Name, f.Annotations["metrics.unit"], output.HistogramSlots(f, d))
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	if p.tables++; p.tables > 1 {
		out = append([]byte("\n"), out...)
	}
	_, err := p.o.w.Write(out)
	return err
}
