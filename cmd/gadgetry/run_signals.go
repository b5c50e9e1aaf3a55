package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/term"
)

// runSignals is how `gadgetry run` takes SIGINT and SIGTERM: the first stops the run (its
// context is cancelled: the gadget stops, what was read is printed, then the summary); a second
// one exits at once, as docker does, printing the summary so far (exit status 128 + that
// signal). The kernel detaches the gadget's programs and frees its maps as the process exits:
// none is pinned.
type runSignals struct {
	ch     chan os.Signal
	cancel context.CancelFunc
	first  atomic.Int32
	stderr io.Writer

	mu     sync.Mutex
	onExit func() // prints the summary so far; nil before the run starts
	exited bool
}

// watchSignals starts taking SIGINT and SIGTERM for the run whose context it returns.
func watchSignals(stderr io.Writer) (*runSignals, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &runSignals{ch: make(chan os.Signal, 2), cancel: cancel, stderr: stderr}
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
	go s.loop()
	return s, ctx
}

func (s *runSignals) loop() {
	for sig := range s.ch {
		n := sig.(syscall.Signal)
		if s.first.CompareAndSwap(0, int32(n)) {
			if f, ok := s.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprintf(s.stderr, "stopping the gadget (%s again exits at once)\n", signalName(n))
			}
			s.cancel()
			continue
		}
		s.exitNow(n)
	}
}

// exitNow ends the process: the summary so far, then exit status 128 + sig.
func (s *runSignals) exitNow(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited {
		return // the run has ended: its own summary is being printed
	}
	fmt.Fprintf(s.stderr, "%s again: exiting at once, without waiting for the gadget to stop\n", signalName(sig))
	if s.onExit != nil {
		s.onExit()
	}
	os.Exit(128 + int(sig))
}

// onForcedExit sets what a second signal prints before exiting (the summary so far).
func (s *runSignals) onForcedExit(fn func()) {
	s.mu.Lock()
	s.onExit = fn
	s.mu.Unlock()
}

// signalled returns the first signal, 0 when none came.
func (s *runSignals) signalled() syscall.Signal { return syscall.Signal(s.first.Load()) }

// done is called once the run has ended: a later signal no longer exits at once (the summary
// is printed by the caller), and the context is released.
func (s *runSignals) done() {
	s.mu.Lock()
	s.exited = true
	s.mu.Unlock()
	s.cancel()
}
