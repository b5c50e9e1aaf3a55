package runtime

import (
	"testing"
	"time"
)

// simRing is a ring buffer that fills at a fixed rate (bytes per second) from a start time.
type simRing struct {
	blind    bool // a perf event array: the pacer cannot read its fill
	rate     float64
	from     time.Time
	now      *time.Time
	consumed int
}

func (s *simRing) fill() int {
	if s.now.Before(s.from) {
		return 0
	}
	return int(s.rate*s.now.Sub(s.from).Seconds()) - s.consumed
}

// simulate drives a pacer over d of simulated time and returns its checks and drains and the
// highest fill it let a ring reach after warmup. A blind ring (a perf event array) gets a
// gauge without fill: the pacer never reads it, and each drain reports the bytes it consumed.
func simulate(t *testing.T, rings []*simRing, size int, d, warmup time.Duration) (checks, drains, peak int) {
	t.Helper()
	start := time.Unix(1000, 0)
	now := start
	gauges := make([]*gauge, len(rings))
	for i, r := range rings {
		r.now = &now
		if r.from.IsZero() {
			r.from = start
		}
		gauges[i] = &gauge{size: size}
		if !r.blind {
			gauges[i].fill = r.fill
		}
	}
	p := newPacer(50*time.Millisecond, now)
	wait := checkInterval
	for now.Sub(start) < d {
		now = now.Add(wait)
		checks++
		if now.Sub(start) >= warmup {
			for _, r := range rings {
				peak = max(peak, r.fill())
			}
		}
		if p.check(now, gauges) {
			drains++
			for i, r := range rings {
				n := r.fill()
				r.consumed += n
				if r.blind {
					gauges[i].read += n
				}
			}
			p.drained(now, gauges)
		}
		wait = p.next(now, gauges)
		if wait < checkInterval || wait > 50*time.Millisecond {
			t.Fatalf("wait %v outside [%v, 50ms]", wait, checkInterval)
		}
	}
	return checks, drains, peak
}

func TestPacerIdle(t *testing.T) {
	checks, drains, _ := simulate(t, []*simRing{{rate: 0}}, 1<<20, 10*time.Second, 0)
	if drains != 0 {
		t.Errorf("%d drains of empty rings", drains)
	}
	// Backed off to the interval: 20 checks a second, plus the first few.
	if checks > 210 {
		t.Errorf("%d checks in 10 s of idle; want ≤ 210 (one per 50 ms)", checks)
	}
}

func TestPacerSteadyStream(t *testing.T) {
	// 1000 records/s of 5 KiB into an 8 MiB ring: one drain per 50 ms interval.
	checks, drains, _ := simulate(t, []*simRing{{rate: 5 << 20}}, 8<<20, 10*time.Second, 0)
	if drains > 210 || checks > 210 {
		t.Errorf("%d checks, %d drains in 10 s of a steady stream; want ≤ 210 (one per 50 ms)", checks, drains)
	}
	if drains < 190 {
		t.Errorf("%d drains in 10 s of a steady stream; want ≥ 190 (records wait at most ~50 ms)", drains)
	}
}

func TestPacerLoneRecord(t *testing.T) {
	// A quiet run, then one record: it is drained at the first check that sees it, which the idle
	// backoff puts at most one interval later.
	start := time.Unix(1000, 0)
	now := start
	arrive := start.Add(3 * time.Second)
	size := 1 << 20
	avail := func() int {
		if now.Before(arrive) {
			return 0
		}
		return 100
	}
	g := &gauge{fill: avail, size: size}
	p := newPacer(50*time.Millisecond, now)
	wait := checkInterval
	for {
		now = now.Add(wait)
		if p.check(now, []*gauge{g}) {
			break
		}
		wait = p.next(now, []*gauge{g})
	}
	if late := now.Sub(arrive); late > 50*time.Millisecond {
		t.Errorf("lone record drained %v after it arrived; want ≤ 50ms", late)
	}
}

func TestPacerSmallRingFastStream(t *testing.T) {
	// 20 MB/s into a 256 KiB ring: a quarter fills in ~3 ms, so the pacer checks at its
	// shortest interval and the ring never fills.
	size := 256 << 10
	_, _, peak := simulate(t, []*simRing{{rate: 20 << 20}}, size, 2*time.Second, 0)
	if peak >= size {
		t.Errorf("the ring reached %d of %d bytes", peak, size)
	}
}

func TestPacerBurstAfterQuiet(t *testing.T) {
	// Quiet, then 100 MB/s into an 8 MiB ring: the first check that sees it drains at once and
	// times the next check by the rate, so the ring stays under half full.
	size := 8 << 20
	_, _, peak := simulate(t, []*simRing{{rate: 100 << 20, from: time.Unix(1002, 0)}}, size, 4*time.Second, 0)
	if peak >= size/2 {
		t.Errorf("the ring reached %d of %d bytes", peak, size)
	}
}

func TestPacerPerfIdle(t *testing.T) {
	// A blind gauge cannot be seen empty: it is drained once per interval, no more.
	checks, drains, _ := simulate(t, []*simRing{{blind: true, rate: 0}}, 256<<10, 10*time.Second, 0)
	if checks > 210 || drains > 201 {
		t.Errorf("%d checks, %d drains in 10 s of idle; want ≤ 210 and ≤ 201 (one per 50 ms)", checks, drains)
	}
}

func TestPacerPerfSteadyStream(t *testing.T) {
	// 100 KiB/s into 256 KiB per-CPU buffers: a quarter takes 640 ms, so one drain per interval.
	checks, drains, _ := simulate(t, []*simRing{{blind: true, rate: 100 << 10}}, 256<<10, 10*time.Second, 0)
	if drains < 190 || drains > 201 || checks > 210 {
		t.Errorf("%d checks, %d drains in 10 s of a steady stream; want 190–201 drains (one per 50 ms)", checks, drains)
	}
}

func TestPacerPerfLoneRecord(t *testing.T) {
	// A quiet run, then one record: the next interval's drain reads it.
	start := time.Unix(1000, 0)
	now := start
	arrive := start.Add(3*time.Second + 7*time.Millisecond)
	g := &gauge{size: 256 << 10}
	p := newPacer(50*time.Millisecond, now)
	wait := checkInterval
	for {
		now = now.Add(wait)
		if p.check(now, []*gauge{g}) {
			if !now.Before(arrive) {
				break
			}
			p.drained(now, []*gauge{g})
		}
		wait = p.next(now, []*gauge{g})
	}
	if late := now.Sub(arrive); late > 50*time.Millisecond {
		t.Errorf("lone record drained %v after it arrived; want ≤ 50ms", late)
	}
}

func TestPacerPerfFastStream(t *testing.T) {
	// 20 MB/s into 256 KiB buffers: once a drain has measured the rate, the next drains come
	// before a quarter of a buffer fills (the checks at their shortest interval), so the buffer
	// never fills. Before the first drain the pacer cannot know (warm-up not measured).
	size := 256 << 10
	checks, drains, peak := simulate(t, []*simRing{{blind: true, rate: 20 << 20}}, size, 2*time.Second, 100*time.Millisecond)
	if peak >= size/2 {
		t.Errorf("the buffer reached %d of %d bytes (%d checks, %d drains)", peak, size, checks, drains)
	}
}

func TestPacerPerfBurstAfterQuiet(t *testing.T) {
	// Quiet, then 100 MB/s into 8 MiB buffers: the burst waits at most one interval for its
	// first drain (5 MB), which measures the rate; later drains keep up.
	size := 8 << 20
	_, _, peak := simulate(t, []*simRing{{blind: true, rate: 100 << 20, from: time.Unix(1002, 0)}}, size, 4*time.Second, 0)
	if peak >= size {
		t.Errorf("the buffer reached %d of %d bytes", peak, size)
	}
}

func TestPacerPerfWithRing(t *testing.T) {
	// A ring buffer and an idle perf event array: the ring's steady stream still costs one
	// drain per interval, and the perf array adds none.
	_, drains, _ := simulate(t, []*simRing{{rate: 5 << 20}, {blind: true, rate: 0}}, 8<<20, 10*time.Second, 0)
	if drains < 190 || drains > 210 {
		t.Errorf("%d drains in 10 s; want 190–210 (one per 50 ms)", drains)
	}
}
