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
	"github.com/gadgetry/gadgetry/runtime/decode"
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
	// rest fills the data source's trailing-data field (ebpf.rest.name), nil without one.
	rest *decode.Rest
	// rd is the ring buffer's reader; perf the perf event array's (one of them is set).
	rd     *ringbuf.Reader
	perf   *perfStream
	lost   *ebpf.Map
	counts *Counts
	rec    ringbuf.Record
	// pool holds the records of a batch (maxBatch of them, made at the first drain), batch
	// the batch being read; bsize is the stream's batch size now.
	pool  []*datasource.Data
	batch []*datasource.Data
	bsize int
	// limited: in drainWritten, reads stop once budget, the ring bytes still to read, is
	// used up.
	limited bool
	budget  int
	// lostSeen is the last value read from the lost counter.
	lostSeen uint64
	lostBuf  []uint64
	gauge    gauge
	// waker, when set, reports the kernel's wake-ups of this ring (ringwaker.go).
	waker *ringWaker
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

// wakeGap is the shortest time between two drains a ring's wake-ups cause (ringwaker.go):
// at most a thousand a second, each taking what came meanwhile.
const wakeGap = time.Millisecond

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
		s := &stream{ds: ds, rd: rd, counts: &Counts{}, rest: decode.RestOf(ds)}
		s.gauge = gauge{fill: rd.AvailableBytes, size: rd.BufferSize()}
		if _, ours := r.g.spec.Variables[ringSubmitFlagsVar]; !ours {
			// Built elsewhere: its records may wake readers (ringwaker.go). Without a
			// waker the ring is still drained by the paced checks.
			if r.wake == nil {
				r.wake = make(chan struct{}, 1)
			}
			if w, err := newRingWaker(m.FD(), r.wake); err == nil {
				s.waker = w
			}
		}
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

// close releases the stream's reader (and its waker).
func (s *stream) close() {
	if s.perf != nil {
		s.perf.rd.Close()
		return
	}
	if s.waker != nil {
		s.waker.close()
	}
	s.rd.Close()
}

// loop drives every stream until the run stops, then tears the run down.
func (r *Run) loop(ctx context.Context) {
	defer close(r.done)
	interval := r.interval()
	// The timeout and the context's end ask for a stop from their own goroutines, so that the
	// request reaches a guest callback that does not return (OnStopRequest) while this
	// goroutine is in it.
	if r.opts.Timeout > 0 {
		t := time.AfterFunc(r.opts.Timeout, r.requestStop)
		defer t.Stop()
	}
	defer context.AfterFunc(ctx, r.requestStop)()
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
	woken := false // a ring's wake-up came: the next tick drains (wakeGap)
	for {
		select {
		case <-r.stopCh:
			r.teardown(true)
			return
		case <-dumpTick:
			if err := r.dumpMaps(); err != nil {
				r.err = err
				r.teardown(true)
				return
			}
		case <-r.wake:
			// A ring that had been emptied got a record (ringwaker.go): the next tick drains,
			// at once or wakeGap after the last drain, so that a flood's wake-ups, one per
			// drain, do not turn into a drain per record.
			woken = true
			tick.Reset(wakeGap - time.Since(p.lastDrain))
		case now := <-tick.C:
			if woken || p.check(now, gauges) {
				woken = false
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

// Draining is bounded, so that a consumer slower than the kernel (a slow guest, a slow
// terminal) never keeps the stream goroutine from a stop, a timeout or the next check:
//   - records are read and handed to the subscribers in batches (datasource.EmitBatch), whose
//     size adapts per stream between 1 and maxBatch so that one batch takes about batchTarget;
//   - a drain of every stream ends when the rings are empty, when a stop was asked for, or
//     when its time slice (the drain interval) is used up; what is left waits in the kernel
//     ring, and what the ring cannot take is counted there as lost;
//   - the drains at stop have finalSlice; records still unread then are counted as unread
//     (Counts.Unread), not delivered.
//
// Nothing is queued in the process: memory stays at one batch of records per stream.
const (
	maxBatch    = 256
	firstBatch  = 16
	batchTarget = 10 * time.Millisecond
	finalSlice  = 500 * time.Millisecond
)

// errEmpty says a stream has no record to read now.
var errEmpty = errors.New("empty")

// drainAll reads the records now in the ring buffers and perf event arrays, every stream in
// turn a batch at a time, until they are empty, a stop is asked for or the drain interval is
// used up, and returns how many it read.
func (r *Run) drainAll() (int, error) {
	return r.drainUntil(time.Now().Add(r.interval()), true)
}

// drainFinal drains the streams at stop: until they are empty or finalSlice is used up.
func (r *Run) drainFinal() (int, error) {
	return r.drainUntil(time.Now().Add(finalSlice), false)
}

// drainWritten drains, at stop while the programs are still attached, the records written
// before it began: a ring buffer's records up to the bytes waiting then (a flood that goes on
// meanwhile is not chased: it is read after the detach), a perf array's until it is empty;
// within finalSlice.
func (r *Run) drainWritten() (int, error) {
	for _, s := range r.streams {
		if s.perf == nil {
			s.budget, s.limited = s.rd.AvailableBytes(), true
		}
	}
	defer func() {
		for _, s := range r.streams {
			s.limited = false
		}
	}()
	return r.drainUntil(time.Now().Add(finalSlice), false)
}

func (r *Run) drainUntil(until time.Time, yield bool) (int, error) {
	n := 0
	for _, s := range r.streams {
		s.setDeadline()
	}
	for {
		more := false
		for _, s := range r.streams {
			c, err := r.drainBatch(s)
			n += c
			if err != nil {
				return n, err
			}
			if c > 0 {
				more = true
			}
		}
		if !more || (yield && r.stopRequested()) || time.Now().After(until) {
			break
		}
	}
	if n > 0 && r.opts.AfterDrain != nil {
		r.opts.AfterDrain()
	}
	return n, nil
}

// interval is the drain interval: the latency bound of a record, and a drain's time slice.
func (r *Run) interval() time.Duration {
	if r.opts.DrainInterval > 0 {
		return r.opts.DrainInterval
	}
	return 50 * time.Millisecond
}

// setDeadline makes the stream's reads return at once when nothing is there.
func (s *stream) setDeadline() {
	past := time.Now().Add(-time.Millisecond)
	if s.perf != nil {
		s.perf.rd.SetDeadline(past)
		return
	}
	s.rd.SetDeadline(past)
}

// read returns the next record's bytes (valid until the next read), errEmpty when there is
// none now.
func (r *Run) read(s *stream) ([]byte, error) {
	if s.perf != nil {
		return r.readPerf(s)
	}
	if err := s.rd.ReadInto(&s.rec); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrClosed) {
			return nil, errEmpty
		}
		return nil, fmt.Errorf("gadget %s: reading %s: %w", r.g.Name, s.ds.Name, err)
	}
	return s.rec.RawSample, nil
}

// drainBatch reads up to one batch of records of s and hands them to the subscribers, and
// adapts the stream's batch size to the time the subscribers took.
func (r *Run) drainBatch(s *stream) (int, error) {
	if s.bsize == 0 {
		s.bsize = firstBatch
		s.pool = make([]*datasource.Data, maxBatch)
		for k := range s.pool {
			s.pool[k] = s.ds.NewData()
		}
	}
	// The batch is a slice of its own, not s.pool[:n]: EmitBatch compacts it in place.
	b := s.batch[:0]
	var err error
	for len(b) < s.bsize {
		if s.limited && s.budget <= 0 {
			break // drainWritten: the records written before it are read
		}
		var raw []byte
		if raw, err = r.read(s); err != nil {
			break
		}
		// What the record took in the ring: an 8-byte header and the sample, padded to 8.
		s.budget -= (len(raw) + 8 + 7) &^ 7
		d := s.pool[len(b)]
		s.ds.Reset(d)
		copy(d.Raw, raw)
		s.rest.Fill(d, raw)
		b = append(b, d)
	}
	if errors.Is(err, errEmpty) {
		err = nil
	}
	s.batch = b[:0]
	if len(b) == 0 {
		return 0, err
	}
	start := time.Now()
	n := len(b)
	kept, emitErr := s.ds.EmitBatch(b)
	took := time.Since(start)
	switch {
	case took > batchTarget && s.bsize > 1:
		s.bsize /= 2
	case took < batchTarget/2 && s.bsize < maxBatch && n == s.bsize:
		s.bsize *= 2
	}
	r.mu.Lock()
	s.counts.Events += uint64(n)
	if emitErr == nil {
		s.counts.Dropped += uint64(n - len(kept))
	}
	r.mu.Unlock()
	if emitErr != nil {
		return n, r.gadgetErr(emitErr, "data source "+s.ds.Name)
	}
	return n, err
}

// discard reads what is left in the streams after the final drains, without delivering it,
// and counts it as unread. The programs are detached: nothing writes any more.
func (r *Run) discard() {
	for _, s := range r.streams {
		s.setDeadline()
		var n uint64
		for {
			if _, err := r.read(s); err != nil {
				break
			}
			n++
		}
		if n > 0 {
			r.mu.Lock()
			s.counts.Unread += n
			r.mu.Unlock()
		}
	}
}

// stopRequested reports whether the run was asked to stop.
func (r *Run) stopRequested() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
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
