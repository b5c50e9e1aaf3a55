package filter

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"openat", []string{"openat"}},
		{"openat,write", []string{"openat", "write"}},
		{" openat , write ", []string{"openat", "write"}},
		{"openat,\twrite\n", []string{"openat", "write"}},
		{"openat,,write,", []string{"openat", "write"}},
		{",", nil},
		{"openat,write,openat", []string{"openat", "write"}},
		{"write,openat,write,write", []string{"write", "openat"}},
		{"OpenAt,openat", []string{"openat"}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`c,"a,b"`, []string{"c", "a,b"}},
		{`"val with space",x`, []string{"val with space", "x"}},
		{`" padded ",x`, []string{" padded ", "x"}},
		{` "openat" , 'write' `, []string{"openat", "write"}},
		{`'a "b" c'`, []string{`a "b" c`}},
		{`"a \"q\" \\ b"`, []string{`a "q" \ b`}},
		{`'a\b'`, []string{`a\b`}},
		{`op"en"at`, []string{"openat"}},
		{`"",openat`, []string{"openat"}},
		{`"a,b","a,b"`, []string{"a,b"}},
		{"ünï,côdé", []string{"ünï", "côdé"}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseUnterminatedQuote(t *testing.T) {
	for _, in := range []string{`"openat`, `openat,'write`, `"a\"`} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), "never closed") {
			t.Errorf("Parse(%q): want an unterminated-quote error, got %v", in, err)
		}
	}
}

// TestParseNoLimit: any number of names, e.g. every syscall of an architecture.
func TestParseNoLimit(t *testing.T) {
	all := archSyscalls["x86-64"]
	got, err := Parse(strings.Join(all, ","))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("got %d names, want %d", len(got), len(all))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"openat,write", `"a,b",c`, `'x`, ` , `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		names, err := Parse(in)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || seen[n] {
				t.Fatalf("Parse(%q) = %q: empty or duplicate name", in, names)
			}
			seen[n] = true
		}
	})
}
