package sockets

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Address families and protocols of the key.
const (
	afInet  = 2
	afInet6 = 10
	ipTCP   = 6
	ipUDP   = 17
)

type owner struct {
	pid, ppid    uint32
	mntns        uint64
	uid, gid     uint32
	comm, parent string
	netns        uint32
}

// Scan reads the sockets of every process under procRoot ("/proc") and gives each TCP or UDP
// socket's key and owner. A socket several processes hold goes to the one with the lowest pid;
// sockets sharing a key (a listener and the connections it accepted) give one entry. With
// paths, each owner's working directory and executable are read too (Value.Cwd, Exepath).
func Scan(procRoot string, paths bool) (map[Key]Value, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	owners := map[uint64]*owner{}   // socket inode → owner
	netnsPid := map[uint32]string{} // network namespace → a process in it
	comms := map[uint32]string{}
	for _, e := range entries {
		pid64, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		pid := uint32(pid64)
		dir := filepath.Join(procRoot, e.Name())
		o := &owner{pid: pid}
		netns, ok := nsInode(filepath.Join(dir, "ns/net"))
		if !ok {
			continue // gone, or a kernel thread we cannot read
		}
		o.netns = uint32(netns)
		o.mntns, _ = nsInode(filepath.Join(dir, "ns/mnt"))
		if !readStatus(filepath.Join(dir, "status"), o) {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if prev := owners[ino]; prev == nil || prev.pid > pid {
				owners[ino] = o
			}
			if _, ok := netnsPid[o.netns]; !ok {
				netnsPid[o.netns] = e.Name()
			}
		}
	}
	out := map[Key]Value{}
	type ownerPaths struct{ cwd, exe string }
	pathsOf := map[uint32]ownerPaths{}
	for netns, pid := range netnsPid {
		for _, t := range []struct {
			file          string
			family, proto uint16
		}{{"tcp", afInet, ipTCP}, {"tcp6", afInet6, ipTCP}, {"udp", afInet, ipUDP}, {"udp6", afInet6, ipUDP}} {
			rows, err := readNetTable(filepath.Join(procRoot, pid, "net", t.file))
			if err != nil {
				continue // no IPv6 in this namespace, or the process is gone
			}
			for _, r := range rows {
				o := owners[r.inode]
				if o == nil {
					continue
				}
				k := Key{Netns: netns, Family: t.family, Proto: uint8(t.proto), Port: r.port}
				if _, dup := out[k]; dup {
					continue
				}
				parent, ok := comms[o.ppid]
				if !ok {
					parent = readComm(filepath.Join(procRoot, strconv.FormatUint(uint64(o.ppid), 10)))
					comms[o.ppid] = parent
				}
				ps, ok := pathsOf[o.pid]
				if !ok && paths {
					dir := filepath.Join(procRoot, strconv.FormatUint(uint64(o.pid), 10))
					ps.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
					ps.exe, _ = os.Readlink(filepath.Join(dir, "exe"))
					pathsOf[o.pid] = ps
				}
				out[k] = Value{
					Mntns:   o.mntns,
					PidTgid: uint64(o.pid)<<32 | uint64(o.pid),
					UidGid:  uint64(o.gid)<<32 | uint64(o.uid),
					Task:    o.comm,
					PTask:   parent,
					Sock:    r.inode,
					PPid:    o.ppid,
					PTid:    o.ppid,
					Cwd:     ps.cwd,
					Exepath: ps.exe,
				}
			}
		}
	}
	return out, nil
}

// nsInode reads the inode of a namespace link (/proc/<pid>/ns/net → net:[4026531840]).
func nsInode(p string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// readStatus fills comm, ppid, uid and gid from /proc/<pid>/status.
func readStatus(p string, o *owner) bool {
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Name":
			o.comm = strings.TrimSpace(v)
		case "PPid":
			n, _ := strconv.ParseUint(f[0], 10, 32)
			o.ppid = uint32(n)
		case "Uid":
			n, _ := strconv.ParseUint(f[0], 10, 32)
			o.uid = uint32(n)
		case "Gid":
			n, _ := strconv.ParseUint(f[0], 10, 32)
			o.gid = uint32(n)
		}
	}
	return true
}

func readComm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

type netRow struct {
	port  uint16
	inode uint64
}

// readNetTable reads the local port and inode of each row of /proc/<pid>/net/{tcp,udp}[6]:
// "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode".
func readNetTable(p string) ([]netRow, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []netRow
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		_, port, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		pn, err1 := strconv.ParseUint(port, 16, 16)
		ino, err2 := strconv.ParseUint(fields[9], 10, 64)
		if err1 != nil || err2 != nil || ino == 0 {
			continue
		}
		rows = append(rows, netRow{uint16(pn), ino})
	}
	return rows, sc.Err()
}

// Enricher keeps a gadget's gadget_sockets map filled while it runs.
type Enricher struct {
	m       *ebpf.Map
	paths   bool // the map's values have the optional paths (ValueSize bytes)
	proc    string
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	written map[Key]bool
}

// Start fills m from /proc at once (so the first events are enriched), then every Interval
// until Stop. warn receives a failure to scan, once.
func Start(m *ebpf.Map, warn func(string)) (*Enricher, error) {
	e := &Enricher{m: m, paths: m.ValueSize() >= ValueSize, proc: "/proc", stop: make(chan struct{}), done: make(chan struct{}), written: map[Key]bool{}}
	if err := e.refresh(); err != nil {
		return nil, err
	}
	go func() {
		defer close(e.done)
		t := time.NewTicker(Interval)
		defer t.Stop()
		warned := false
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				if err := e.refresh(); err != nil && !warned {
					warned = true
					warn(fmt.Sprintf("socket enricher: %v", err))
				}
			}
		}
	}()
	return e, nil
}

// refresh writes the sockets found now and deletes those gone since the last refresh.
func (e *Enricher) refresh() error {
	socks, err := Scan(e.proc, e.paths)
	if err != nil {
		return err
	}
	var errs []error
	for k, v := range socks {
		if err := e.m.Update(k, v.bytes(e.paths), ebpf.UpdateAny); err != nil {
			if errors.Is(err, unix.E2BIG) {
				return fmt.Errorf("map %s is full (%d sockets)", MapName, e.m.MaxEntries())
			}
			errs = append(errs, err)
			continue
		}
	}
	for k := range e.written {
		if _, ok := socks[k]; !ok {
			_ = e.m.Delete(k)
			delete(e.written, k)
		}
	}
	for k := range socks {
		e.written[k] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("updating map %s: %w", MapName, errs[0])
	}
	return nil
}

// Stop ends the refreshes and waits for the last one; the map is the caller's to close.
func (e *Enricher) Stop() {
	if e == nil {
		return
	}
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

// CurrentNetns is the inode of the calling thread's network namespace: what
// gadget_socket_lookup() of a packet program takes from skb->cb[0].
func CurrentNetns() (uint32, error) {
	ino, ok := nsInode("/proc/thread-self/ns/net")
	if !ok {
		return 0, errors.New("reading /proc/thread-self/ns/net")
	}
	return uint32(ino), nil
}
