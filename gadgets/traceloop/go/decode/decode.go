// Package decode says how traceloop decodes the arguments of each syscall (which are strings in
// user memory, which is a socket address) and formats a recorded call's arguments as text. The
// table is by name: numbers come from the host at run time, for the running architecture. It
// has no dependencies.
package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Flags of an Entry, the same bits as DECODE_* in program.bpf.c.
const (
	NoReturn   = 1 // exit, exit_group: no sys_exit, recorded on entry
	StrAtEnter = 2 // read Str0 on entry (execve: the old memory is gone on a successful exit)
)

// Entry mirrors struct syscall_decode of program.bpf.c: argument indexes are 1-based, 0 = none.
type Entry struct {
	Str0Arg, Str1Arg, SockaddrArg, Flags uint8
}

// Bytes returns the entry as the kernel side's map value.
func (e Entry) Bytes() []byte { return []byte{e.Str0Arg, e.Str1Arg, e.SockaddrArg, e.Flags} }

// Table lists the syscalls whose arguments traceloop decodes beyond integers. A name missing on
// an architecture (open on arm64) is skipped there.
var Table = map[string]Entry{
	// one path
	"open": {Str0Arg: 1}, "creat": {Str0Arg: 1}, "openat": {Str0Arg: 2}, "openat2": {Str0Arg: 2},
	"stat": {Str0Arg: 1}, "lstat": {Str0Arg: 1}, "newfstatat": {Str0Arg: 2}, "statx": {Str0Arg: 2},
	"access": {Str0Arg: 1}, "faccessat": {Str0Arg: 2}, "faccessat2": {Str0Arg: 2},
	"readlink": {Str0Arg: 1}, "readlinkat": {Str0Arg: 2},
	"unlink": {Str0Arg: 1}, "unlinkat": {Str0Arg: 2}, "rmdir": {Str0Arg: 1},
	"mkdir": {Str0Arg: 1}, "mkdirat": {Str0Arg: 2}, "mknod": {Str0Arg: 1}, "mknodat": {Str0Arg: 2},
	"chdir": {Str0Arg: 1}, "chroot": {Str0Arg: 1}, "truncate": {Str0Arg: 1},
	"chmod": {Str0Arg: 1}, "fchmodat": {Str0Arg: 2}, "fchmodat2": {Str0Arg: 2},
	"chown": {Str0Arg: 1}, "lchown": {Str0Arg: 1}, "fchownat": {Str0Arg: 2},
	"utimensat": {Str0Arg: 2}, "statfs": {Str0Arg: 1}, "umount2": {Str0Arg: 1},
	"swapon": {Str0Arg: 1}, "swapoff": {Str0Arg: 1}, "acct": {Str0Arg: 1},
	"inotify_add_watch": {Str0Arg: 2}, "memfd_create": {Str0Arg: 1},
	"getxattr": {Str0Arg: 1, Str1Arg: 2}, "lgetxattr": {Str0Arg: 1, Str1Arg: 2},
	"setxattr": {Str0Arg: 1, Str1Arg: 2}, "lsetxattr": {Str0Arg: 1, Str1Arg: 2},
	"removexattr": {Str0Arg: 1, Str1Arg: 2}, "listxattr": {Str0Arg: 1},
	"sethostname": {Str0Arg: 1}, "setdomainname": {Str0Arg: 1},
	"init_module": {Str0Arg: 3}, "delete_module": {Str0Arg: 1}, "finit_module": {Str0Arg: 2},
	// two paths
	"rename": {Str0Arg: 1, Str1Arg: 2}, "renameat": {Str0Arg: 2, Str1Arg: 4},
	"renameat2": {Str0Arg: 2, Str1Arg: 4}, "link": {Str0Arg: 1, Str1Arg: 2},
	"linkat": {Str0Arg: 2, Str1Arg: 4}, "symlink": {Str0Arg: 1, Str1Arg: 2},
	"symlinkat": {Str0Arg: 1, Str1Arg: 3}, "mount": {Str0Arg: 1, Str1Arg: 2},
	"pivot_root": {Str0Arg: 1, Str1Arg: 2},
	// programs
	"execve":   {Str0Arg: 1, Flags: StrAtEnter},
	"execveat": {Str0Arg: 2, Flags: StrAtEnter},
	// socket addresses
	"connect": {SockaddrArg: 2}, "bind": {SockaddrArg: 2}, "accept": {SockaddrArg: 2},
	"accept4": {SockaddrArg: 2}, "sendto": {SockaddrArg: 5}, "recvfrom": {SockaddrArg: 5},
	"getsockname": {SockaddrArg: 2}, "getpeername": {SockaddrArg: 2},
	// no return
	"exit": {Flags: NoReturn}, "exit_group": {Flags: NoReturn},
}

const atFDCWD = -100

// Call is one recorded syscall, as the formatter needs it.
type Call struct {
	Name     string
	Args     [6]uint64
	Str0     string
	Str1     string
	Sockaddr []byte
	// NArgs is the syscall's number of parameters, when Declared (tracefs declares it).
	NArgs    int
	Declared bool
}

// Args formats the arguments of c: strings quoted in place of their pointers, the socket
// address as text, AT_FDCWD by name, small numbers in decimal and others (pointers, flags) in
// hexadecimal. For a syscall with strings or an address it shows the arguments up to the last of
// those; otherwise its NArgs arguments if Declared, else the six registers without their trailing
// zeros.
func Args(c Call) string {
	e, known := Table[c.Name]
	return ArgsFor(c, e, known)
}

// ArgsFor is Args with c.Name's entry of Table already looked up (known: it has one), for a
// caller that keeps it per syscall number instead of looking it up for every call.
func ArgsFor(c Call, e Entry, known bool) string {
	return string(AppendArgsFor(nil, c, e, known))
}

// Shown returns how many arguments, from the first, ArgsFor formats of a syscall with entry e
// (known: Table has one) and nargs declared parameters (-1: undeclared): a caller that reads
// the arguments one by one reads only those. Undeclared and without strings, the arguments
// shown depend on their values (trailing zeros are cut): all six.
func Shown(e Entry, known bool, nargs int) int {
	switch {
	case known && (e.Str0Arg != 0 || e.Str1Arg != 0 || e.SockaddrArg != 0):
		return int(max(e.Str0Arg, e.Str1Arg, e.SockaddrArg))
	case nargs >= 0:
		return min(nargs, 6)
	}
	return 6
}

// AppendArgsFor appends what ArgsFor returns to dst and returns the extended buffer: with a
// reused buffer it allocates nothing but for a socket address.
func AppendArgsFor(dst []byte, c Call, e Entry, known bool) []byte {
	return AppendCallArgs(dst, &c, e, known)
}

// AppendCallArgs is AppendArgsFor of *c: in a WASM guest, passing the call by value copies it
// (a memory.copy, which the host runs as a call of its own) on every record.
func AppendCallArgs(dst []byte, c *Call, e Entry, known bool) []byte {
	n := 6
	if !known || e.Str0Arg == 0 && e.Str1Arg == 0 && e.SockaddrArg == 0 {
		if c.Declared {
			n = min(max(c.NArgs, 0), 6)
		} else {
			for n > 0 && c.Args[n-1] == 0 {
				n--
			}
		}
	} else {
		n = int(max(e.Str0Arg, e.Str1Arg, e.SockaddrArg))
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		idx := uint8(i + 1)
		switch {
		case idx == e.Str0Arg:
			dst = strconv.AppendQuote(dst, c.Str0)
		case idx == e.Str1Arg:
			dst = strconv.AppendQuote(dst, c.Str1)
		case idx == e.SockaddrArg:
			dst = append(dst, Sockaddr(c.Sockaddr)...)
		case int32(c.Args[i]) == atFDCWD && (idx+1 == e.Str0Arg || idx+1 == e.Str1Arg):
			dst = append(dst, "AT_FDCWD"...) // a directory fd right before a path
		case c.Args[i] < 1<<16:
			dst = strconv.AppendUint(dst, c.Args[i], 10)
		default:
			dst = append(dst, "0x"...)
			dst = strconv.AppendUint(dst, c.Args[i], 16)
		}
	}
	return dst
}

// Sockaddr formats a raw struct sockaddr: 127.0.0.1:80, [::1]:80, a unix socket path (@name
// for the abstract namespace), or family=N for the others.
func Sockaddr(b []byte) string {
	if len(b) < 2 {
		return "?"
	}
	family := binary.LittleEndian.Uint16(b)
	switch {
	case family == 0:
		return "NULL"
	case family == 2 && len(b) >= 8: // AF_INET
		a := netip.AddrFrom4([4]byte(b[4:8]))
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:])).String()
	case family == 10 && len(b) >= 24: // AF_INET6
		a := netip.AddrFrom16([16]byte(b[8:24]))
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[2:])).String()
	case family == 1: // AF_UNIX
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			end := len(p)
			for end > 1 && p[end-1] == 0 {
				end--
			}
			return "@" + string(p[1:end])
		}
		for i, c := range p {
			if c == 0 {
				p = p[:i]
				break
			}
		}
		return strconv.Quote(string(p))
	}
	return fmt.Sprintf("family=%d", family)
}
