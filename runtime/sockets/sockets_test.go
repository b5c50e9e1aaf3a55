package sockets

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestScan: this process's UDP socket and TCP listener are found in /proc with this process as
// owner, keyed by this network namespace, family, protocol and port.
func TestScan(t *testing.T) {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.ListenTCP("tcp6", &net.TCPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer tcp.Close()
	netns, err := CurrentNetns()
	if err != nil {
		t.Fatal(err)
	}
	socks, err := Scan("/proc", true)
	if err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	cwd, _ := os.Getwd()
	exe, _ := os.Readlink("/proc/self/exe")
	for _, k := range []Key{
		{Netns: netns, Family: afInet, Proto: ipUDP, Port: uint16(udp.LocalAddr().(*net.UDPAddr).Port)},
		{Netns: netns, Family: afInet6, Proto: ipTCP, Port: uint16(tcp.Addr().(*net.TCPAddr).Port)},
	} {
		v, ok := socks[k]
		if !ok {
			t.Errorf("%+v not found", k)
			continue
		}
		if v.PidTgid>>32 != uint64(os.Getpid()) || v.Task != strings.TrimSpace(string(comm)) || uint32(v.UidGid) != uint32(os.Getuid()) || v.PPid != uint32(os.Getppid()) || v.Mntns == 0 || v.Cwd != cwd || v.Exepath != exe {
			t.Errorf("%+v: %+v, want pid %d, comm %q, uid %d, ppid %d, cwd %q, exepath %q", k, v, os.Getpid(), comm, os.Getuid(), os.Getppid(), cwd, exe)
		}
	}
}

// TestLayout: the bytes written to the map are where the BTF given to the gadgets' CO-RE
// relocations says.
func TestLayout(t *testing.T) {
	spec, err := Types(true)
	if err != nil {
		t.Fatal(err)
	}
	var st *btf.Struct
	if err := spec.TypeByName("gadget_socket_value", &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != ValueSize {
		t.Errorf("size %d, want %d", st.Size, ValueSize)
	}
	long := strings.Repeat("x", 2*PathSize)
	b, _ := Value{Mntns: 1, PidTgid: 2, UidGid: 3, Task: "t", PTask: "p", Sock: 4, PPid: 5, PTid: 6, IPv6Only: true, Cwd: "/c", Exepath: long}.MarshalBinary()
	want := map[string]byte{"mntns": 1, "pid_tgid": 2, "uid_gid": 3, "task": 't', "ptask": 'p', "sock": 4, "ppid": 5, "ptid": 6, "ipv6only": 1, "cwd": '/', "exepath": 'x'}
	if len(b) != ValueSize || b[len(b)-1] != 0 || b[len(b)-2] != 'x' {
		t.Errorf("a long exepath is not cut to %d bytes and a NUL", PathSize-1)
	}
	for _, m := range st.Members {
		if w, ok := want[m.Name]; ok && b[m.Offset/8] != w {
			t.Errorf("%s at %d holds %d, want %d", m.Name, m.Offset/8, b[m.Offset/8], w)
		}
	}
	k, _ := Key{Netns: 0x01020304, Family: 10, Proto: 6, Port: 0x1234}.MarshalBinary()
	if string(k) != "\x04\x03\x02\x01\x0a\x00\x06\x00\x34\x12\x00\x00" {
		t.Errorf("key bytes % x", k)
	}
}

// BenchmarkScan: one read of /proc, what the enricher does every Interval.
func BenchmarkScan(b *testing.B) {
	for b.Loop() {
		if _, err := Scan("/proc", true); err != nil {
			b.Fatal(err)
		}
	}
}
