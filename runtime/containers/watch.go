package containers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher follows the runtimes' state roots with inotify: a new container directory, its state
// file appearing, and the directory's removal.
type watcher struct {
	c   *Cache
	f   *os.File
	fd  int
	mu  sync.Mutex
	wds map[int]watchDir
	// pending maps a watch on an existing parent to the roots, not yet created, it waits for.
	pending map[int][]stateRoot
	done    chan struct{}
}

type watchDir struct {
	root  stateRoot
	path  string
	level int // 0 … root.nsDepth: directories of directories; root.nsDepth+1: a container
}

func newWatcher(c *Cache) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1 (to follow new containers): %w", err)
	}
	// A non-blocking fd wrapped in os.File uses the runtime poller, so Close wakes the reader.
	return &watcher{c: c, f: os.NewFile(uintptr(fd), "inotify"), fd: fd, wds: map[int]watchDir{},
		pending: map[int][]stateRoot{}, done: make(chan struct{})}, nil
}

const (
	dirMask       = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_ONLYDIR
	containerMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_ONLYDIR
)

// addRoot watches a state root and the directories below it that exist now, reading the state
// of the containers already there. A root that does not exist yet is waited for through a
// watch on its parent (one level: when the parent is missing too, only lazy lookups, which
// read every root again, will find its containers).
func (w *watcher) addRoot(r stateRoot) {
	if _, err := os.Stat(r.dir); err != nil {
		parent := filepath.Dir(r.dir)
		wd, err := unix.InotifyAddWatch(w.fd, parent, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR|unix.IN_MASK_ADD)
		if err != nil {
			return
		}
		w.mu.Lock()
		w.pending[wd] = append(w.pending[wd], r)
		w.mu.Unlock()
		if _, err := os.Stat(r.dir); err != nil {
			return
		}
		// Created between the two checks: fall through (a duplicate watch is harmless).
	}
	w.addDir(watchDir{root: r, path: r.dir, level: 0})
}

func (w *watcher) addDir(d watchDir) {
	mask := uint32(dirMask)
	if d.level > d.root.nsDepth {
		mask = containerMask
	}
	wd, err := unix.InotifyAddWatch(w.fd, d.path, mask)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			w.c.opts.Logf("containers: watching %s: %v", d.path, err)
		}
		return
	}
	w.mu.Lock()
	w.wds[wd] = d
	w.mu.Unlock()
	if d.level > d.root.nsDepth {
		w.read(d.root, d.path) // the state file may be there already
		return
	}
	ents, _ := os.ReadDir(d.path)
	for _, e := range ents {
		if e.IsDir() {
			w.addDir(watchDir{root: d.root, path: filepath.Join(d.path, e.Name()), level: d.level + 1})
		}
	}
}

func (w *watcher) start() { go w.loop() }

func (w *watcher) close() error {
	err := w.f.Close()
	<-w.done
	return err
}

func (w *watcher) loop() {
	defer close(w.done)
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.c.opts.Logf("containers: reading inotify events: %v; new containers are now found only by lazy lookup", err)
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := ""
			if ev.Len > 0 {
				nb := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				for i, b := range nb {
					if b == 0 {
						nb = nb[:i]
						break
					}
				}
				name = string(nb)
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			w.handle(int(ev.Wd), ev.Mask, name)
		}
	}
}

func (w *watcher) handle(wd int, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.c.opts.Logf("containers: inotify queue overflowed; reading the state roots again")
		w.c.mu.Lock()
		w.c.readRootsLocked()
		w.c.mu.Unlock()
		return
	}
	w.mu.Lock()
	d, ok := w.wds[wd]
	waiting := w.pending[wd]
	if mask&unix.IN_IGNORED != 0 {
		delete(w.wds, wd)
		delete(w.pending, wd)
	}
	w.mu.Unlock()
	if mask&unix.IN_ISDIR != 0 && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		for _, r := range waiting {
			if filepath.Base(r.dir) == name {
				w.addDir(watchDir{root: r, path: r.dir, level: 0})
			}
		}
	}
	if !ok || name == "" {
		return
	}
	path := filepath.Join(d.path, name)
	isDir := mask&unix.IN_ISDIR != 0
	switch {
	case d.level < d.root.nsDepth && isDir && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
		w.addDir(watchDir{root: d.root, path: path, level: d.level + 1})
	case d.level == d.root.nsDepth && isDir && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
		w.addDir(watchDir{root: d.root, path: path, level: d.level + 1})
	case d.level == d.root.nsDepth && isDir && mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		w.c.mu.Lock()
		w.c.stoppedLocked(name)
		w.c.mu.Unlock()
	case d.level > d.root.nsDepth && name == d.root.trigger():
		w.read(d.root, d.path)
	}
}

func (w *watcher) read(r stateRoot, dir string) {
	m, err := r.readState(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			w.c.opts.Logf("containers: %v", err)
		}
		return
	}
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if !w.c.closed {
		w.c.learnMetaLocked(m)
	}
}
