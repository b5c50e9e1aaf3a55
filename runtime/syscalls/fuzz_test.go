package syscalls

import (
	"strings"
	"testing"
)

// FuzzParseFormat feeds arbitrary tracefs format text to the parser: it must not panic, and
// what it returns must be names without separators.
func FuzzParseFormat(f *testing.F) {
	f.Add("format:\n\tfield:int __syscall_nr;\toffset:8;\n\tfield:const char * filename;\toffset:16;\n")
	f.Add("field:int __syscall_nr;\nfield:;\nfield: * ;\nfield:x")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseFormat("x", s)
		if err != nil {
			return
		}
		for _, p := range d.Params {
			if strings.ContainsAny(p.Name, " *;") {
				t.Fatalf("param name %q", p.Name)
			}
		}
	})
}
