package runtime

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ringWaker tells the stream goroutine when the kernel wakes a ring buffer's readers. A gadget
// built with <gadget/buffer.h> submits without waking (ringwake.go) and is paced; an object
// without gadgetry_rb_submit_flags (built by IG's builder, or with its headers) submits with
// the flags it chose, usually 0: the kernel then wakes the readers when a record lands in a
// ring they had emptied. For those rings the paced checks are not enough: such a gadget's ring
// is often small (IG's trace_open: 256 KiB, about 60 of its records), and a burst after a
// quiet spell fills it between two checks, where ig, woken, reads at once. The waker waits
// for the wake-up on an epoll instance of its own (edge-triggered, so a ring that still holds
// records does not wake it again before the next wake-up) and the loop drains at once.
type ringWaker struct {
	epfd, efd int
	done      chan struct{}
}

// newRingWaker starts waiting for the wake-ups of the ring buffer map mapFD; each one sends
// to wake unless a send is already pending.
func newRingWaker(mapFD int, wake chan<- struct{}) (*ringWaker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	w := &ringWaker{epfd: epfd, efd: efd, done: make(chan struct{})}
	for _, r := range []struct {
		fd     int
		events uint32
	}{{mapFD, unix.EPOLLIN | unix.EPOLLET}, {efd, unix.EPOLLIN}} {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, r.fd, &unix.EpollEvent{Events: r.events, Fd: int32(r.fd)}); err != nil {
			unix.Close(epfd)
			unix.Close(efd)
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	go w.run(wake)
	return w, nil
}

func (w *ringWaker) run(wake chan<- struct{}) {
	defer close(w.done)
	evs := make([]unix.EpollEvent, 2)
	for {
		n, err := unix.EpollWait(w.epfd, evs, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == w.efd {
				return
			}
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// close stops the waiting and releases the waker's descriptors (not the map's).
func (w *ringWaker) close() {
	_, _ = unix.Write(w.efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-w.done
	unix.Close(w.epfd)
	unix.Close(w.efd)
}
