package wasmapi

import (
	"fmt"
	"testing"
)

func TestErrno(t *testing.T) {
	if Errno(2).String() != "no such file or directory" || Errno(2).Name() != "ENOENT" {
		t.Fatal(Errno(2).Name(), Errno(2))
	}
	if Errno(13).Name() != "EACCES" || Errno(100000).String() != "errno 100000" || Errno(-1).Name() != "errno -1" {
		t.Fatal("bad")
	}
}

func ExampleErrno() {
	e := Errno(2) // e.g. the ret field of an open event, negated
	fmt.Println(e.Name()+":", e)
	// Output: ENOENT: no such file or directory
}
