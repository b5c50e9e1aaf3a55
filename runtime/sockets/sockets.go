// Package sockets is the runtime's socket enricher for gadgets written against Inspektor
// Gadget's <gadget/sockets-map.h>: such a gadget declares the hash map gadget_sockets, keyed by
// a socket's network namespace, family, protocol and local port, and looks a packet's or a
// kernel socket's owner up in it (gadget_socket_lookup). The runtime fills the map: the process
// that holds the socket, its thread, mount namespace, user and group, command and parent.
//
// The value's layout is the runtime's, not the gadget's: the gadget reads its fields through
// CO-RE relocations against the type gadget_socket_value, which Types describes (IG's
// gadgets are compiled with preserve_access_index on that struct). IG's optional fields, cwd
// and exepath, are there in IG's default size (PathSize) for a gadget whose programs refer to
// them: its bpf_core_field_exists() on them is true and bpf_core_field_size() gives PathSize.
// For the others they are left out, and the map's values take ValueSizeNoPaths bytes, not
// ValueSize (a twelfth of the memory: about 1.4 MB instead of 18 MB for 16384 entries).
//
// Sockets are found by reading /proc (each process's socket descriptors, each network
// namespace's /proc/<pid>/net/{tcp,tcp6,udp,udp6}) when the run starts and every Interval
// after: a socket opened and closed between two scans is not enriched. (IG's enricher follows
// socket creation with kernel probes.)
package sockets

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// MapName is the map a gadget looks sockets up in.
const MapName = "gadget_sockets"

// Interval is how often the map is refreshed from /proc.
var Interval = time.Second

// KeySize is the size of the map's key: {u32 netns; u16 family; u8 proto; u16 port (host
// order)}, C layout.
const KeySize = 12

// PathSize is the size of the optional fields cwd and exepath, IG's default ("cwd=512,
// exepath=512"): a longer path is cut to PathSize-1 bytes.
const PathSize = 512

// ValueSize is the size of the runtime's gadget_socket_value, with the optional paths.
const ValueSize = offExepath + PathSize

// ValueSizeNoPaths is its size without them.
const ValueSizeNoPaths = offCwd

// commLen is the size of a command name.
const commLen = 16

// Key is a socket's identity in the map.
type Key struct {
	Netns  uint32
	Family uint16
	Proto  uint8
	Port   uint16
}

// MarshalBinary gives the key's C layout.
func (k Key) MarshalBinary() ([]byte, error) {
	b := make([]byte, KeySize)
	binary.LittleEndian.PutUint32(b[0:], k.Netns)
	binary.LittleEndian.PutUint16(b[4:], k.Family)
	b[6] = k.Proto
	binary.LittleEndian.PutUint16(b[8:], k.Port)
	return b, nil
}

// Value is what the map holds for a socket.
type Value struct {
	Mntns    uint64
	PidTgid  uint64 // tgid << 32 | tid
	UidGid   uint64 // gid << 32 | uid
	Task     string // command name
	PTask    string // parent's command name
	Sock     uint64 // the socket's inode (IG: its kernel address; gadgets do not read it)
	PPid     uint32
	PTid     uint32
	IPv6Only bool
	Cwd      string // the process's working directory (/proc/<pid>/cwd)
	Exepath  string // its executable (/proc/<pid>/exe)
}

// value layout: offsets of the runtime's gadget_socket_value.
const (
	offMntns    = 0
	offPidTgid  = 8
	offUidGid   = 16
	offTask     = 24
	offPTask    = 40
	offSock     = 56
	offDeletion = 64
	offPPid     = 72
	offPTid     = 76
	offIPv6Only = 80
	offCwd      = 88 // IG's optional fields start 8-aligned
	offExepath  = offCwd + PathSize
)

// MarshalBinary gives the value's layout.
func (v Value) MarshalBinary() ([]byte, error) { return v.bytes(true), nil }

// bytes gives the value's layout, with the optional paths (ValueSize bytes) or without them
// (ValueSizeNoPaths).
func (v Value) bytes(paths bool) []byte {
	size := ValueSizeNoPaths
	if paths {
		size = ValueSize
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b[offMntns:], v.Mntns)
	binary.LittleEndian.PutUint64(b[offPidTgid:], v.PidTgid)
	binary.LittleEndian.PutUint64(b[offUidGid:], v.UidGid)
	copy(b[offTask:offTask+commLen-1], v.Task)
	copy(b[offPTask:offPTask+commLen-1], v.PTask)
	binary.LittleEndian.PutUint64(b[offSock:], v.Sock)
	binary.LittleEndian.PutUint32(b[offPPid:], v.PPid)
	binary.LittleEndian.PutUint32(b[offPTid:], v.PTid)
	if v.IPv6Only {
		b[offIPv6Only] = 1
	}
	if paths {
		copy(b[offCwd:offCwd+PathSize-1], v.Cwd)
		copy(b[offExepath:offExepath+PathSize-1], v.Exepath)
	}
	return b
}

// Types returns BTF describing the runtime's struct gadget_socket_value, the target of the
// gadgets' CO-RE relocations on it (ebpf.ProgramOptions.ExtraRelocationTargets): with the
// optional cwd and exepath when paths, else without them (ValueSizeNoPaths bytes).
func Types(paths bool) (*btf.Spec, error) {
	u64 := &btf.Int{Name: "long long unsigned int", Size: 8}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	comm := &btf.Array{Index: u32, Type: char, Nelems: commLen}
	path := &btf.Array{Index: u32, Type: char, Nelems: PathSize}
	m := func(name string, t btf.Type, off uint32) btf.Member {
		return btf.Member{Name: name, Type: t, Offset: btf.Bits(off * 8)}
	}
	st := &btf.Struct{Name: "gadget_socket_value", Size: ValueSizeNoPaths, Members: []btf.Member{
		m("mntns", u64, offMntns),
		m("pid_tgid", u64, offPidTgid),
		m("uid_gid", u64, offUidGid),
		m("task", comm, offTask),
		m("ptask", comm, offPTask),
		m("sock", u64, offSock),
		m("deletion_timestamp", u64, offDeletion),
		m("ppid", u32, offPPid),
		m("ptid", u32, offPTid),
		m("ipv6only", char, offIPv6Only),
	}}
	if paths {
		st.Size = ValueSize
		st.Members = append(st.Members, m("cwd", path, offCwd), m("exepath", path, offExepath))
	}
	b, err := btf.NewBuilder([]btf.Type{st}, nil)
	if err != nil {
		return nil, err
	}
	return b.Spec()
}

// Prepare makes spec's gadget_sockets map hold the runtime's values and adds the runtime's
// gadget_socket_value to opts' CO-RE targets. It reports whether the gadget has the map.
func Prepare(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions) (bool, error) {
	ms := spec.Maps[MapName]
	if ms == nil {
		return false, nil
	}
	if ms.Type != ebpf.Hash || ms.KeySize != KeySize {
		return false, fmt.Errorf("map %s (<gadget/sockets-map.h>'s): a %s with %d-byte keys, want a hash map with %d-byte keys {u32 netns; u16 family; u8 proto; u16 port}", MapName, ms.Type, ms.KeySize, KeySize)
	}
	paths := usesPaths(spec)
	types, err := Types(paths)
	if err != nil {
		return false, fmt.Errorf("describing gadget_socket_value: %w", err)
	}
	ms.ValueSize = ValueSizeNoPaths
	if paths {
		ms.ValueSize = ValueSize
	}
	ms.Key, ms.Value = nil, nil // the value is not the gadget's own struct: no BTF for the map
	opts.Programs.ExtraRelocationTargets = append(opts.Programs.ExtraRelocationTargets, types)
	return true, nil
}

// usesPaths reports whether a program of spec has a CO-RE relocation on the optional fields
// cwd or exepath of its gadget_socket_value (bpf_core_field_exists, _size or a read). A
// relocation on the type that cannot be read counts as one: the paths are then given.
func usesPaths(spec *ebpf.CollectionSpec) bool {
	var local *btf.Struct
	if spec.Types == nil || spec.Types.TypeByName("gadget_socket_value", &local) != nil {
		return false
	}
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			r := btf.CORERelocationMetadata(&p.Instructions[i])
			if r == nil {
				continue
			}
			// CORERelocation(<kind>, Struct:"gadget_socket_value"[0:<member>...], local_id=N)
			s := r.String()
			at := strings.Index(s, `Struct:"gadget_socket_value"[`)
			if at < 0 {
				continue
			}
			acc := s[at+len(`Struct:"gadget_socket_value"[`):]
			end := strings.IndexByte(acc, ']')
			if end < 0 {
				return true
			}
			idx := strings.Split(acc[:end], ":")
			if len(idx) < 2 {
				continue // the type itself (bpf_core_type_exists and the like)
			}
			n, err := strconv.Atoi(idx[1])
			if err != nil || n < 0 || n >= len(local.Members) {
				return true
			}
			if name := local.Members[n].Name; name == "cwd" || name == "exepath" {
				return true
			}
		}
	}
	return false
}
