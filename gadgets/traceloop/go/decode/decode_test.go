package decode

import (
	"encoding/binary"
	"testing"
)

func TestArgs(t *testing.T) {
	fdcwd := uint64(0xffffffffffffff9c) // -100 as the kernel passes it
	for _, tc := range []struct {
		c    Call
		want string
	}{
		{Call{Name: "openat", Args: [6]uint64{fdcwd, 0x7ffd0000, 0x80000, 0}, Str0: "/etc/passwd"}, `AT_FDCWD, "/etc/passwd"`},
		{Call{Name: "write", Args: [6]uint64{1, 0x7ffd12345678, 15}}, "1, 0x7ffd12345678, 15"},
		// Registers beyond the declared parameters hold whatever the caller left there.
		{Call{Name: "write", Args: [6]uint64{1, 0x7ffd12345678, 15, 0, 7, 115}, NArgs: 3, Declared: true}, "1, 0x7ffd12345678, 15"},
		{Call{Name: "getpid", Args: [6]uint64{5}, Declared: true}, ""},
		{Call{Name: "close", Args: [6]uint64{0, 9}, NArgs: 1, Declared: true}, "0"},
		{Call{Name: "close", Args: [6]uint64{0, 9}}, "0, 9"}, // undeclared: trailing zeros only
		{Call{Name: "getpid"}, ""},
		{Call{Name: "renameat", Args: [6]uint64{fdcwd, 1, 7, 2}, Str0: "a", Str1: "b c"}, `AT_FDCWD, "a", 7, "b c"`},
		{Call{Name: "execve", Args: [6]uint64{0x1000, 0x2000, 0x3000}, Str0: "/bin/true"}, `"/bin/true"`},
		{Call{Name: "connect", Args: [6]uint64{3, 0x1000, 16}, Sockaddr: inet4(127, 0, 0, 1, 80)}, "3, 127.0.0.1:80"},
		{Call{Name: "unknown_call", Args: [6]uint64{1, 2, 0, 0, 0, 0}}, "1, 2"},
	} {
		if got := Args(tc.c); got != tc.want {
			t.Errorf("Args(%s) = %q, want %q", tc.c.Name, got, tc.want)
		}
	}
}

func inet4(a, b, c, d byte, port uint16) []byte {
	sa := make([]byte, 112)
	binary.LittleEndian.PutUint16(sa, 2)
	binary.BigEndian.PutUint16(sa[2:], port)
	copy(sa[4:], []byte{a, b, c, d})
	return sa
}

func TestSockaddr(t *testing.T) {
	in6 := make([]byte, 112)
	binary.LittleEndian.PutUint16(in6, 10)
	binary.BigEndian.PutUint16(in6[2:], 443)
	in6[23] = 1
	unix := make([]byte, 112)
	binary.LittleEndian.PutUint16(unix, 1)
	copy(unix[2:], "/run/x.sock")
	abstract := make([]byte, 112)
	binary.LittleEndian.PutUint16(abstract, 1)
	copy(abstract[3:], "bus")
	other := []byte{16, 0, 0, 0}
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{inet4(10, 0, 0, 1, 53), "10.0.0.1:53"},
		{in6, "[::1]:443"},
		{unix, `"/run/x.sock"`},
		{abstract, "@bus"},
		{other, "family=16"},
		{make([]byte, 112), "NULL"},
		{nil, "?"},
		{[]byte{2, 0, 0}, "family=2"},
	} {
		if got := Sockaddr(tc.b); got != tc.want {
			t.Errorf("Sockaddr(% x...) = %q, want %q", tc.b[:min(len(tc.b), 8)], got, tc.want)
		}
	}
}

// TestTableIndexes: every index is an argument (1..6) and the flags are known bits.
func TestTableIndexes(t *testing.T) {
	for name, e := range Table {
		for _, idx := range []uint8{e.Str0Arg, e.Str1Arg, e.SockaddrArg} {
			if idx > 6 {
				t.Errorf("%s: argument index %d", name, idx)
			}
		}
		if e.Flags&^(NoReturn|StrAtEnter) != 0 {
			t.Errorf("%s: unknown flags %#x", name, e.Flags)
		}
		if e.Flags&StrAtEnter != 0 && e.Str0Arg == 0 {
			t.Errorf("%s: StrAtEnter without a string", name)
		}
	}
	if got := (Entry{2, 4, 0, StrAtEnter}).Bytes(); len(got) != 4 || got[0] != 2 || got[1] != 4 || got[3] != StrAtEnter {
		t.Errorf("Bytes() = %v", got)
	}
}

// TestShown: what ArgsFor formats depends only on the first Shown arguments, whatever the
// others hold (the module reads only those).
func TestShown(t *testing.T) {
	entries := map[string]Entry{"getpid": {}, "unknown_call": {}}
	for name, e := range Table {
		entries[name] = e
	}
	for name, e := range entries {
		_, known := Table[name]
		for _, nargs := range []int{-1, 0, 1, 3, 6} {
			c := Call{Name: name, Args: [6]uint64{0xffffffffffffff9c, 7, 0x7ffd0000, 1, 0, 3}, Str0: "/a", Str1: "b",
				Sockaddr: inet4(10, 0, 0, 1, 53), NArgs: max(nargs, 0), Declared: nargs >= 0}
			want := ArgsFor(c, e, known)
			n := Shown(e, known, nargs)
			for i := n; i < 6; i++ {
				c.Args[i] = 0xdead0000 + uint64(i)
			}
			if got := ArgsFor(c, e, known); got != want {
				t.Errorf("%s (nargs %d): Shown %d, but argument %d..5 change %q to %q", name, nargs, n, n, want, got)
			}
		}
	}
}
