package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf/perf"

	"github.com/gadgetry/gadgetry/runtime/decode"
)

// Tracers whose map is a perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY, written with
// bpf_perf_event_output): the kernel keeps one buffer per CPU, and the same stream goroutine
// that drains the ring buffers reads them (stream.go).
//
//   - Buffer size: RunOptions.PerfBufferPages pages per CPU, DefaultPerfBufferPages by default.
//     gadget.yaml has no key for it (neither the contract nor Inspektor Gadget's metadata
//     defines one).
//   - Wake-ups: the reader sets a wake-up watermark of a quarter of the per-CPU buffer, so the
//     kernel queues its wake-up work once per quarter buffer rather than once per record (the
//     perf counterpart of BPF_RB_NO_WAKEUP). Nothing ever waits for the wake-up: the pacer
//     drains with a deadline in the past, which reads every CPU's buffer to its head.
//   - Pacing: cilium/ebpf does not expose the per-CPU rings' heads, so the pacer cannot see how
//     full a perf buffer is without reading it (its gauge is blind). It drains a perf stream
//     once per DrainInterval, and sooner when the rate the last drains found predicts a quarter
//     of one per-CPU buffer (the rate is all CPUs' together, so this errs on the early side). An
//     idle perf stream costs one non-blocking drain (an epoll_wait that returns at once) per
//     interval, and a lone record waits at most about one interval.
//   - Loss: when a CPU's buffer is full the kernel counts the record as lost and later writes a
//     lost-samples record into that buffer (once there is room, before the next sample). The
//     drain adds those into the stream's lost count, reported like a ring buffer's (OnLost or a
//     warning, and Counts.Lost). Because the kernel's record only comes with a later sample, a
//     program may also count its failed writes in `<map>_lost_samples` (GADGET_TRACER_PERF_MAP
//     and gadget_output_perf do), which is read at once; the lost total is then the larger of
//     the two counts, as both count the same failures.
//   - Records: a sample is decoded like a ring-buffer record. A sample shorter than the struct
//     leaves the rest zero; the kernel pads samples to 8 bytes with unspecified bytes, which
//     are ignored past the struct's end but would be read as fields inside it, so programs must
//     send the whole struct (sizeof).

// DefaultPerfBufferPages is the default size, in memory pages, of each per-CPU buffer of a perf
// event array tracer (64 pages: 256 KiB per CPU with 4 KiB pages).
const DefaultPerfBufferPages = 64

// perfStream is the perf-event-array side of a stream.
type perfStream struct {
	rd  *perf.Reader
	rec perf.Record
	// lost is the total of the kernel's lost-samples records read so far.
	lost uint64
}

// openPerfStream opens the reader of a perf-array tracer and registers its stream.
func (r *Run) openPerfStream(t *Tracer) error {
	pages := r.opts.PerfBufferPages
	if pages <= 0 {
		pages = DefaultPerfBufferPages
	}
	// The reader rounds the buffer up to a power of two pages; the watermark is a quarter of that.
	size := os.Getpagesize()
	for size < pages*os.Getpagesize() {
		size *= 2
	}
	rd, err := perf.NewReaderWithOptions(r.coll.Maps[t.Map], size, perf.ReaderOptions{Watermark: size / 4})
	if err != nil {
		return fmt.Errorf("gadget %s: tracer %s: opening perf event array %s with %d-byte per-CPU buffers: %w (perf_event_open needs CAP_PERFMON or CAP_SYS_ADMIN, and the buffers count against RLIMIT_MEMLOCK and kernel.perf_event_mlock_kb; try fewer RunOptions.PerfBufferPages)",
			r.g.Name, t.DataSource, t.Map, size, err)
	}
	ds := r.DataSource(t.DataSource)
	s := &stream{ds: ds, perf: &perfStream{rd: rd}, counts: &Counts{}, rest: decode.RestOf(ds)}
	s.gauge = gauge{size: rd.BufferSize()}
	r.addStream(t, s)
	return nil
}

// perfHeader is the size of a perf record's header (struct perf_event_header); a sample adds
// a 4-byte size before its data, a lost-samples record 16 bytes of id and count.
const perfHeader = 8

// readPerf returns the next sample of a perf event array (valid until the next read),
// errEmpty when there is none now; lost-samples records on the way are counted.
func (r *Run) readPerf(s *stream) ([]byte, error) {
	p := s.perf
	for {
		err := p.rd.ReadInto(&p.rec)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, perf.ErrClosed) {
				return nil, errEmpty
			}
			if perf.IsUnknownEvent(err) {
				return nil, fmt.Errorf("gadget %s: reading perf event array of %s: %w (the buffer holds a record that is neither a sample nor a lost-samples record; only bpf_perf_event_output may write to a tracer's perf event array)", r.g.Name, s.ds.Name, err)
			}
			return nil, fmt.Errorf("gadget %s: reading perf event array of %s: %w", r.g.Name, s.ds.Name, err)
		}
		if p.rec.LostSamples > 0 {
			p.lost += p.rec.LostSamples
			s.gauge.read += perfHeader + 16
			continue
		}
		s.gauge.read += perfHeader + 4 + len(p.rec.RawSample)
		return p.rec.RawSample, nil
	}
}
