package daemon

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// metrics are the daemon's Prometheus metrics: counters of the runs that ended plus, at each
// scrape, the counts so far of the runs in progress, so every counter only grows.
type metrics struct {
	mu      sync.Mutex
	started uint64
	failed  uint64
	ended   map[dsKey]runtime.Counts // by gadget and data source, of finished runs
	guest   map[string]guestTotal    // by gadget, of finished runs
	active  map[*activeRun]bool
}

type dsKey struct{ gadget, ds string }

type guestTotal struct {
	ns      time.Duration
	records uint64
}

// activeRun is what a scrape reads of a run in progress.
type activeRun struct {
	gadget string
	run    *runtime.Run
	guest  *datasource.SubscriberTime
}

func newMetrics() *metrics {
	return &metrics{ended: map[dsKey]runtime.Counts{}, guest: map[string]guestTotal{}, active: map[*activeRun]bool{}}
}

func (m *metrics) runStarted(a *activeRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started++
	m.active[a] = true
}

func (m *metrics) runFailed() {
	m.mu.Lock()
	m.failed++
	m.mu.Unlock()
}

// runEnded moves a run's final counts from the active runs to the totals.
func (m *metrics) runEnded(a *activeRun, failed bool) {
	s := a.run.Summary()
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.active, a)
	if failed {
		m.failed++
	}
	addCounts(m.ended, a.gadget, s)
	if a.guest != nil {
		d, n := a.guest.Total()
		g := m.guest[a.gadget]
		g.ns += d
		g.records += n
		m.guest[a.gadget] = g
	}
}

func addCounts(to map[dsKey]runtime.Counts, gadget string, s runtime.Summary) {
	for name, c := range s.DataSources {
		k := dsKey{gadget, name}
		t := to[k]
		t.Events += c.Events
		t.Lost += c.Lost
		t.Dropped += c.Dropped
		t.Unread += c.Unread
		to[k] = t
	}
}

// ServeHTTP writes the metrics in Prometheus' text exposition format (version 0.0.4).
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.write(w)
}

func (m *metrics) write(out io.Writer) {
	m.mu.Lock()
	counts := maps.Clone(m.ended)
	guest := maps.Clone(m.guest)
	active := len(m.active)
	started, failed := m.started, m.failed
	for a := range m.active {
		addCounts(counts, a.gadget, a.run.Summary())
		if a.guest != nil {
			d, n := a.guest.Total()
			g := guest[a.gadget]
			g.ns += d
			g.records += n
			guest[a.gadget] = g
		}
	}
	m.mu.Unlock()

	w := bufio.NewWriter(out)
	defer w.Flush()
	metric := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("gadgetry_runs_active", "gauge", "Gadget runs in progress on this node.")
	fmt.Fprintf(w, "gadgetry_runs_active %d\n", active)
	metric("gadgetry_runs_started_total", "counter", "Gadget runs started on this node (attached).")
	fmt.Fprintf(w, "gadgetry_runs_started_total %d\n", started)
	metric("gadgetry_runs_failed_total", "counter", "Gadget runs that failed to start or ended with an error.")
	fmt.Fprintf(w, "gadgetry_runs_failed_total %d\n", failed)

	keys := slices.SortedFunc(maps.Keys(counts), func(a, b dsKey) int {
		if c := strings.Compare(a.gadget, b.gadget); c != 0 {
			return c
		}
		return strings.Compare(a.ds, b.ds)
	})
	metric("gadgetry_events_total", "counter", "Records read from the kernel, by gadget and data source.")
	for _, k := range keys {
		fmt.Fprintf(w, "gadgetry_events_total{gadget=%s,datasource=%s} %d\n", quote(k.gadget), quote(k.ds), counts[k].Events)
	}
	metric("gadgetry_records_lost_total", "counter", "Records lost, by stage: kernel (the ring or perf buffer was full), unread (still in the ring when the bounded last drain ended), dropped (by a subscriber such as the gadget's WASM module).")
	for _, k := range keys {
		c := counts[k]
		for _, st := range []struct {
			stage string
			n     uint64
		}{{"kernel", c.Lost}, {"unread", c.Unread}, {"dropped", c.Dropped}} {
			fmt.Fprintf(w, "gadgetry_records_lost_total{gadget=%s,datasource=%s,stage=%q} %d\n", quote(k.gadget), quote(k.ds), st.stage, st.n)
		}
	}
	gadgets := slices.Sorted(maps.Keys(guest))
	metric("gadgetry_wasm_guest_seconds_total", "counter", "Time gadgets' WASM modules spent in their data callbacks; divided by gadgetry_wasm_guest_records_total: the guest's time per event.")
	for _, g := range gadgets {
		fmt.Fprintf(w, "gadgetry_wasm_guest_seconds_total{gadget=%s} %s\n", quote(g), strconv.FormatFloat(guest[g].ns.Seconds(), 'g', -1, 64))
	}
	metric("gadgetry_wasm_guest_records_total", "counter", "Records handed to gadgets' WASM modules' data callbacks.")
	for _, g := range gadgets {
		fmt.Fprintf(w, "gadgetry_wasm_guest_records_total{gadget=%s} %d\n", quote(g), guest[g].records)
	}
	if rss, ok := residentBytes(); ok {
		metric("process_resident_memory_bytes", "gauge", "Resident memory of the daemon, in bytes.")
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
	}
}

// quote is a label value in the exposition format: a double-quoted string with \, " and
// newlines escaped.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, err := strconv.ParseUint(f[0], 10, 64)
				return n * 1024, err == nil
			}
		}
	}
	return 0, false
}
