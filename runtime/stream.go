package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// stream reads one tracer's ring buffer into its data source.
//
// Programs submit with BPF_RB_NO_WAKEUP, so the kernel never wakes the reader: user space
// drains on a timer (DrainInterval, default 50ms: the latency bound) and sooner when a cheap
// check of the ring's available bytes (no syscall; every 5ms while records flow, backing off to
// half the interval while the rings stay empty) shows it a quarter full, or shows a record on a
// quiet stream (so a lone event is not held back). One goroutine serves every
// stream of a run, so subscribers are never called concurrently.
type stream struct {
	ds     *datasource.DataSource
	rd     *ringbuf.Reader
	lost   *ebpf.Map
	counts *Counts
	rec    ringbuf.Record
	data   *datasource.Data
	// lostSeen is the last value read from the lost counter.
	lostSeen uint64
	lostBuf  []uint64
}

const checkInterval = 5 * time.Millisecond

func (r *Run) openStreams() error {
	for _, t := range r.g.Tracers {
		m := r.coll.Maps[t.Map]
		rd, err := ringbuf.NewReader(m)
		if err != nil {
			return fmt.Errorf("gadget %s: tracer %s: opening ring buffer %s: %w", r.g.Name, t.DataSource, t.Map, err)
		}
		ds := r.DataSource(t.DataSource)
		s := &stream{ds: ds, rd: rd, counts: &Counts{}, data: ds.NewData()}
		if t.LostMap != "" {
			s.lost = r.coll.Maps[t.LostMap]
		}
		r.mu.Lock()
		r.summary.DataSources[ds.Name] = s.counts
		r.mu.Unlock()
		r.streams = append(r.streams, s)
	}
	return nil
}

// loop drives every stream until the run stops, then tears the run down.
func (r *Run) loop(ctx context.Context) {
	defer close(r.done)
	interval := r.opts.DrainInterval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	var timeout <-chan time.Time
	if r.opts.Timeout > 0 {
		t := time.NewTimer(r.opts.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	// The check timer backs off while the rings stay empty (up to half the drain interval) and
	// returns to checkInterval as soon as a record shows: an idle run costs few wake-ups.
	wait := checkInterval
	tick := time.NewTimer(wait)
	defer tick.Stop()
	lastDrain, lastLost := time.Now(), time.Now()
	lastBatch := 0
	for {
		select {
		case <-ctx.Done():
			r.teardown(true)
			return
		case <-r.stopCh:
			r.teardown(true)
			return
		case <-timeout:
			r.teardown(true)
			return
		case now := <-tick.C:
			due, seen := false, false
			for _, s := range r.streams {
				avail := s.rd.AvailableBytes() // two atomic loads from the mmapped ring
				if avail == 0 {
					continue
				}
				seen = true
				// Drain when the interval is up, when a quarter full, or at once on a quiet
				// stream (small last batch), so a lone event shows without waiting.
				if now.Sub(lastDrain) >= interval || avail >= s.rd.BufferSize()/4 || lastBatch < quietBatch {
					due = true
				}
			}
			if due {
				lastDrain = now
				n, err := r.drainAll()
				lastBatch = n
				if err != nil {
					r.err = err
					r.teardown(true)
					return
				}
			}
			if now.Sub(lastLost) >= time.Second {
				lastLost = now
				r.checkLost()
			}
			if seen {
				wait = checkInterval
			} else if wait < interval/2 {
				wait *= 2
			}
			tick.Reset(wait)
		}
	}
}

// quietBatch: a stream whose last drain read fewer records is drained as soon as a record
// arrives (checked every checkInterval); busier streams wait for the drain interval.
const quietBatch = 64

// drainAll reads every record now in the ring buffers and returns how many it read.
func (r *Run) drainAll() (int, error) {
	n := 0
	for _, s := range r.streams {
		c, err := r.drain(s)
		n += c
		if err != nil {
			return n, err
		}
	}
	if n > 0 && r.opts.AfterDrain != nil {
		r.opts.AfterDrain()
	}
	return n, nil
}

func (r *Run) drain(s *stream) (int, error) {
	s.rd.SetDeadline(time.Now().Add(-time.Millisecond)) // never block: read what is there
	n := 0
	var events, dropped uint64
	defer func() {
		r.mu.Lock()
		s.counts.Events += events
		s.counts.Dropped += dropped
		r.mu.Unlock()
	}()
	for {
		err := s.rd.ReadInto(&s.rec)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrClosed) {
				return n, nil
			}
			return n, fmt.Errorf("gadget %s: reading %s: %w", r.g.Name, s.ds.Name, err)
		}
		n++
		events++
		d := s.data
		s.ds.Reset(d)
		copy(d.Raw, s.rec.RawSample)
		drop, err := s.ds.Emit(d)
		if err != nil {
			return n, fmt.Errorf("gadget %s: data source %s: %w", r.g.Name, s.ds.Name, err)
		}
		if drop {
			dropped++
		}
	}
}

// checkLost reads the per-CPU lost-record counters and reports growth.
func (r *Run) checkLost() {
	for _, s := range r.streams {
		if s.lost == nil {
			continue
		}
		if err := s.lost.Lookup(uint32(0), &s.lostBuf); err != nil {
			continue
		}
		var total uint64
		for _, v := range s.lostBuf {
			total += v
		}
		if total <= s.lostSeen {
			continue
		}
		newly := total - s.lostSeen
		s.lostSeen = total
		r.mu.Lock()
		s.counts.Lost = total
		r.mu.Unlock()
		if r.opts.OnLost != nil {
			r.opts.OnLost(s.ds.Name, newly, total)
		} else {
			r.rt.log.Warn(fmt.Sprintf("gadget %s: %d records of %s lost (ring buffer full; %d in total)", r.g.Name, newly, s.ds.Name, total))
		}
	}
}
