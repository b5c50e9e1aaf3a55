package output_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// wideSample is a record with a short name, a number and two long strings.
func wideSample(t *testing.T) (*datasource.DataSource, *datasource.Data) {
	t.Helper()
	ds := datasource.New("exec", datasource.TypeSingle, 4+64+64+16)
	for _, f := range []struct {
		name         string
		kind         datasource.Kind
		offset, size int
	}{{"pid", datasource.KindUint32, 0, 4}, {"exepath", datasource.KindCString, 4, 64}, {"args", datasource.KindCString, 68, 64}, {"comm", datasource.KindCString, 132, 16}} {
		if _, err := ds.AddStaticField(f.name, f.kind, f.offset, f.size); err != nil {
			t.Fatal(err)
		}
	}
	d := ds.NewData()
	d.Raw[0] = 42
	copy(d.Raw[4:], "/usr/lib/very/long/path/to/some/program-with-a-long-name")
	copy(d.Raw[68:], "--first-argument --second-argument=välue --third")
	copy(d.Raw[132:], "prog")
	return ds, d
}

func table(t *testing.T, width int) []string {
	t.Helper()
	ds, d := wideSample(t)
	var buf bytes.Buffer
	w := output.New(&buf, output.Columns, output.DefaultFields(ds, output.Columns), format.New())
	w.SetWidth(width)
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

// TestSetWidth: a table fits the width it is given, long values are cut with "…", columns stay
// aligned with the header, and width 0 keeps every value whole.
func TestSetWidth(t *testing.T) {
	whole := table(t, 0)
	if !strings.Contains(whole[1], "/usr/lib/very/long/path/to/some/program-with-a-long-name") || !strings.Contains(whole[1], "--second-argument=välue") {
		t.Errorf("width 0 cut a value:\n%s", strings.Join(whole, "\n"))
	}
	for _, width := range []int{40, 60, 80, 200} {
		lines := table(t, width)
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("width %d: line of %d characters: %q", width, n, l)
			}
		}
		// Every column starts where its header does.
		header, row := []rune(lines[0]), []rune(lines[1])
		for _, name := range []string{"EXEPATH", "ARGS", "COMM"} {
			i := strings.Index(lines[0], name)
			col := utf8.RuneCountInString(lines[0][:i])
			if col >= len(row) || row[col-1] != ' ' || row[col] == ' ' {
				t.Errorf("width %d: column %s starts at %d in the header but not in the row:\n%s\n%s", width, name, col, string(header), string(row))
			}
		}
		if width < 100 && !strings.Contains(lines[1], "…") {
			t.Errorf("width %d: nothing cut:\n%s", width, strings.Join(lines, "\n"))
		}
	}
	// At 80 columns the last column takes the rest of the line: here all of comm.
	if l := table(t, 80); !strings.HasSuffix(l[1], " prog") {
		t.Errorf("the last column lost its short value:\n%s", strings.Join(l, "\n"))
	}
	// A wide terminal: the columns keep the widths the header was printed with (a value longer
	// than its column is cut), the last one runs to the end of the line.
	if got := table(t, 300); got[1] != "     42 /usr/lib/very/l… --first-argumen… prog" {
		t.Errorf("width 300:\n%s", strings.Join(got, "\n"))
	}
	if got := table(t, 40); got[1] != "     42 /usr/lib/… --first-a… prog" {
		t.Errorf("width 40:\n%s", strings.Join(got, "\n"))
	}
}

// TestWriteHeader: the header is written at once, and only once.
func TestWriteHeader(t *testing.T) {
	ds, d := wideSample(t)
	var buf bytes.Buffer
	w := output.New(&buf, output.Columns, output.DefaultFields(ds, output.Columns), format.New())
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got := buf.String(); got != "    PID EXEPATH          ARGS             COMM\n" {
		t.Errorf("header %q", got)
	}
	w.Write(d)
	w.Flush()
	if n := strings.Count(buf.String(), "PID"); n != 1 {
		t.Errorf("%d headers:\n%s", n, buf.String())
	}
	var js bytes.Buffer
	jw := output.New(&js, output.JSON, output.DefaultFields(ds, output.JSON), format.New())
	jw.WriteHeader()
	jw.Flush()
	if js.Len() != 0 {
		t.Errorf("a JSON writer wrote a header: %q", js.String())
	}
}
