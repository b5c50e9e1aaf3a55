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

// stream reads one tracer's ring buffer or perf event array (perf.go) into its data source.
//
// Programs submit with BPF_RB_NO_WAKEUP, so the kernel never wakes the reader: user space
// checks the ring's available bytes (two loads from the mmapped ring, no system call) on a timer
// and drains it:
//   - at once when records show on a quiet run (the previous check found every ring empty), so
//     a lone event is not held back;
//   - while records flow, once per DrainInterval (default 50ms: the latency bound), and sooner
//     when a ring is a quarter full; the next check is timed from the rate the ring fills at, so
//     a steady stream costs one wake-up per interval, not one per record or per few milliseconds;
//   - while the rings stay empty the checks back off from checkInterval to the interval, so an
//     idle run costs 20 wake-ups a second and a lone record waits at most one interval.
//
// A perf event array's fill cannot be read without reading it (cilium/ebpf keeps its per-CPU
// rings private), so its gauge is blind: it is drained once per DrainInterval, and sooner when
// the rate its last drains found predicts a quarter-full per-CPU buffer (see gauge).
//
// One goroutine serves every stream of a run, so subscribers are never called concurrently.
type stream struct {
	ds *datasource.DataSource
	// rd is the ring buffer's reader; perf the perf event array's (one of them is set).
	rd     *ringbuf.Reader
	perf   *perfStream
	lost   *ebpf.Map
	counts *Counts
	rec    ringbuf.Record
	data   *datasource.Data
	// lostSeen is the last value read from the lost counter.
	lostSeen uint64
	lostBuf  []uint64
	gauge    gauge
}

// gauge is what the pacer knows of one ring.
type gauge struct {
	// fill reads the bytes waiting in the ring; size is the ring's size in bytes (a perf
	// event array's: one per-CPU buffer's). A nil fill makes the gauge blind (a perf event
	// array): the pacer cannot see what waits, and the drains report the bytes they read in
	// read instead.
	fill func() int
	size int
	// avail is the fill at the last check, 0 after a drain; rate is the bytes per second that
	// arrived between the last two checks (blind: between the last two drains).
	avail int
	rate  float64
	// read is the bytes drained from a blind gauge's buffers since the pacer last counted them.
	read int
}

// checkInterval is the shortest wait between two checks of the rings.
const checkInterval = 5 * time.Millisecond

func (r *Run) openStreams() error {
	for _, t := range r.g.Tracers {
		if t.PerfArray {
			if err := r.openPerfStream(t); err != nil {
				return err
			}
			continue
		}
		m := r.coll.Maps[t.Map]
		rd, err := ringbuf.NewReader(m)
		if err != nil {
			return fmt.Errorf("gadget %s: tracer %s: opening ring buffer %s: %w", r.g.Name, t.DataSource, t.Map, err)
		}
		ds := r.DataSource(t.DataSource)
		s := &stream{ds: ds, rd: rd, counts: &Counts{}, data: ds.NewData()}
		s.gauge = gauge{fill: rd.AvailableBytes, size: rd.BufferSize()}
		r.addStream(t, s)
	}
	return nil
}

// addStream registers an opened stream of tracer t with the run.
func (r *Run) addStream(t *Tracer, s *stream) {
	if t.LostMap != "" {
		s.lost = r.coll.Maps[t.LostMap]
	}
	r.mu.Lock()
	r.summary.DataSources[s.ds.Name] = s.counts
	r.mu.Unlock()
	r.streams = append(r.streams, s)
}

// close releases the stream's reader.
func (s *stream) close() {
	if s.perf != nil {
		s.perf.rd.Close()
		return
	}
	s.rd.Close()
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
	gauges := make([]*gauge, len(r.streams))
	for i, s := range r.streams {
		gauges[i] = &s.gauge
	}
	// Array data sources: the iterators' snapshots once, now that everything is attached; a
	// gadget that only takes snapshots is then done. Maps are dumped on their own ticker.
	if err := r.takeSnapshots(); err != nil {
		r.err = err
		r.teardown(true)
		return
	}
	if len(r.g.Iters) > 0 && len(r.streams) == 0 && len(r.dumps) == 0 {
		r.teardown(true)
		return
	}
	var dumpTick <-chan time.Time
	if iv := r.mapFetchInterval(); len(r.dumps) > 0 && iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		dumpTick = t.C
	}
	p := newPacer(interval, time.Now())
	tick := time.NewTimer(checkInterval)
	defer tick.Stop()
	lastLost := time.Now()
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
		case <-dumpTick:
			if err := r.dumpMaps(); err != nil {
				r.err = err
				r.teardown(true)
				return
			}
		case now := <-tick.C:
			if p.check(now, gauges) {
				if _, err := r.drainAll(); err != nil {
					r.err = err
					r.teardown(true)
					return
				}
				p.drained(now, gauges)
			}
			if now.Sub(lastLost) >= time.Second {
				lastLost = now
				r.checkLost()
			}
			tick.Reset(p.next(now, gauges))
		}
	}
}

// pacer decides when the stream goroutine checks and drains the rings (see stream).
type pacer struct {
	interval             time.Duration
	lastCheck, lastDrain time.Time
	// quiet: the last check found every ring empty; idleWait: the current backed-off wait.
	quiet    bool
	idleWait time.Duration
	seen     bool // the current check found records
}

func newPacer(interval time.Duration, now time.Time) *pacer {
	return &pacer{interval: interval, idleWait: checkInterval, quiet: true, lastCheck: now, lastDrain: now}
}

// check reads every ring's fill and reports whether to drain now.
//
// A blind gauge (perf event array) is due once an interval has passed since the last drain,
// or when the rate its last drains found predicts a quarter-full buffer; while that rate is not
// zero it counts as seen, so the checks keep their pace instead of backing off.
func (p *pacer) check(now time.Time, streams []*gauge) bool {
	since := now.Sub(p.lastCheck).Seconds()
	p.lastCheck = now
	p.seen = false
	due := false
	sinceDrain := now.Sub(p.lastDrain)
	for _, s := range streams {
		if s.fill == nil {
			s.avail = int(s.rate * sinceDrain.Seconds())
			if s.rate > 0 {
				p.seen = true
			}
			if sinceDrain >= p.interval || s.avail >= s.size/4 {
				due = true
			}
			continue
		}
		avail := s.fill()
		arrived := avail - s.avail
		if arrived < 0 {
			arrived = avail
		}
		if since > 0 {
			s.rate = float64(arrived) / since
		}
		s.avail = avail
		if avail == 0 {
			continue
		}
		p.seen = true
		if p.quiet || now.Sub(p.lastDrain) >= p.interval || avail >= s.size/4 {
			due = true
		}
	}
	return due
}

// drained records a drain at now: every ring is empty again. A blind gauge's rate is the bytes
// the drain read over the time since the previous drain; records found count as seen.
func (p *pacer) drained(now time.Time, streams []*gauge) {
	since := now.Sub(p.lastDrain).Seconds()
	p.lastDrain = now
	for _, s := range streams {
		if s.fill == nil {
			if since > 0 {
				s.rate = float64(s.read) / since
			}
			if s.read > 0 {
				p.seen = true
			}
			s.read = 0
		}
		s.avail = 0
	}
}

// next returns the wait until the next check.
func (p *pacer) next(now time.Time, streams []*gauge) time.Duration {
	if !p.seen {
		if p.quiet {
			p.idleWait = min(2*p.idleWait, p.interval)
		} else {
			p.idleWait = checkInterval
		}
		p.quiet = true
		return p.idleWait
	}
	p.quiet = false
	wait := p.interval - now.Sub(p.lastDrain)
	for _, s := range streams {
		if s.rate <= 0 {
			continue
		}
		// Check again halfway to the predicted quarter-full point.
		left := float64(s.size/4 - s.avail)
		wait = min(wait, time.Duration(left/s.rate*float64(time.Second)/2))
	}
	return max(wait, checkInterval)
}

// drainAll reads every record now in the ring buffers and perf event arrays and returns how
// many it read.
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
	if s.perf != nil {
		return r.drainPerf(s)
	}
	s.rd.SetDeadline(time.Now().Add(-time.Millisecond)) // never block: read what is there
	var t tally
	defer r.count(s, &t)
	for {
		err := s.rd.ReadInto(&s.rec)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrClosed) {
				return t.n(), nil
			}
			return t.n(), fmt.Errorf("gadget %s: reading %s: %w", r.g.Name, s.ds.Name, err)
		}
		if err := r.record(s, &t, s.rec.RawSample); err != nil {
			return t.n(), err
		}
	}
}

// tally counts the records of one drain of a stream.
type tally struct {
	events, dropped uint64
}

// n is the number of records the drain read.
func (t *tally) n() int { return int(t.events) }

// record emits one record of s and counts it (and whether a subscriber dropped it) in t.
func (r *Run) record(s *stream, t *tally, raw []byte) error {
	t.events++
	drop, err := r.emit(s, raw)
	if drop {
		t.dropped++
	}
	return err
}

// count adds a drain's tally to the stream's counts (read by Summary from other goroutines).
func (r *Run) count(s *stream, t *tally) {
	r.mu.Lock()
	s.counts.Events += t.events
	s.counts.Dropped += t.dropped
	r.mu.Unlock()
}

// emit decodes one record into the stream's reused Data and hands it to the subscribers. A
// record shorter than the struct leaves the rest of the struct zero; bytes past the struct
// (a longer record, a perf sample's padding) are ignored.
func (r *Run) emit(s *stream, raw []byte) (drop bool, err error) {
	d := s.data
	s.ds.Reset(d)
	copy(d.Raw, raw)
	drop, err = s.ds.Emit(d)
	if err != nil {
		return drop, r.gadgetErr(err, "data source "+s.ds.Name)
	}
	return drop, nil
}

// checkLost reads the lost-record counts and reports growth. A stream's total is its
// `<map>_lost_samples` counter, or for a perf event array the larger of that counter and the
// kernel's lost-sample records (both count the same failed writes when the program counts its
// failures, and only the kernel's when it does not; see perf.go).
func (r *Run) checkLost() {
	for _, s := range r.streams {
		var total uint64
		if s.perf != nil {
			total = s.perf.lost
		}
		if s.lost != nil {
			if err := s.lost.Lookup(uint32(0), &s.lostBuf); err == nil {
				var n uint64
				for _, v := range s.lostBuf {
					n += v
				}
				total = max(total, n)
			}
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
			what := "ring buffer full"
			if s.perf != nil {
				what = "perf buffer full"
			}
			r.rt.log.Warn(fmt.Sprintf("gadget %s: %d records of %s lost (%s; %d in total)", r.g.Name, newly, s.ds.Name, what, total))
		}
	}
}
