// Command runbench measures `gadgetry run` against the goals in docs/benchmarks.md and rewrites
// that file. bench/run.sh builds what it needs and calls it; run it as root.
//
//	runbench -gadgetry bin/gadgetry -ref trace_exec -out docs/benchmarks.md
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/bench/internal/stats"
)

var (
	gadgetry = flag.String("gadgetry", "bin/gadgetry", "the gadgetry binary")
	ref      = flag.String("ref", "trace_exec", "the exec tracer to run (a REF or a .o path)")
	outPath  = flag.String("out", "docs/benchmarks.md", "where to write the report")
	reps     = flag.Int("reps", 5, "repetitions of the startup measurement")
	loops    = flag.Int("loop", 2000, "execs in the bash loop")
	burst    = flag.Int("burst", 20000, "execs in the parallel burst")
	getpids  = flag.Int("getpid", 5000000, "getpid calls in the tight loop")
	rounds   = flag.Int("rounds", 12, "rounds of the slowdown measurements (each: untraced, floor tracer, tracer, untraced again, in rotating order)")
	floor    = flag.String("floor", "", "a minimal exec tracer (a .o path) measured beside -ref as the floor of any exec tracer")
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "getpid" {
		var n int
		fmt.Sscan(os.Args[2], &n)
		for i := 0; i < n; i++ {
			syscall.Getpid()
		}
		return
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		fail("runbench must run as root (it loads eBPF programs)")
	}
	exe := uniqueExecutable()
	defer os.RemoveAll(filepath.Dir(exe))
	comm := filepath.Base(exe)
	var r report
	r.Ref = *ref

	// 1. Time to first event, of the tracer and of the floor tracer, alternating.
	var starts, floorStarts []time.Duration
	for i := 0; i < *reps; i++ {
		starts = append(starts, timeToFirstEvent(*ref, exe, comm))
		if *floor != "" {
			floorStarts = append(floorStarts, timeToFirstEvent(*floor, exe, comm))
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	r.FirstEvent = starts[len(starts)/2]
	r.FirstEventAll = starts
	if len(floorStarts) > 0 {
		r.FloorFirstEvent = stats.Median(floorStarts)
	}

	// 2. bash loop of /bin/true and 3. tight getpid loop: rounds of untraced, traced, untraced.
	bashLoop := fmt.Sprintf("for i in $(seq %d); do /bin/true; done", *loops)
	var floorV []variant
	if *floor != "" {
		floorV = append(floorV, variant{ref: *floor})
	}
	r.Loop = compare(func() time.Duration { return run("bash", "-c", bashLoop) }, floorV...)
	self, _ := os.Executable()
	// getpid also under the tracer with failed-exec reporting on (--ignore-failed=false attaches
	// the execve syscall tracepoints): what its help text says it costs.
	r.Getpid = compare(func() time.Duration { return run(self, "getpid", fmt.Sprint(*getpids)) },
		variant{ref: *ref, args: []string{"--ignore-failed=false"}})

	// Idle cost: the tracer's threads' CPU over 2 s with nothing to report.
	r.IdleCPU = idleCPU(2 * time.Second)

	// 4. 4-way parallel burst, counting our own execs (in-kernel comm filter).
	r.BurstWant = *burst
	r.BurstSeen, r.BurstLost, r.PeakRSS, r.MapRSS = parallelBurst(exe, comm, *burst)

	r.When = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	u, _ := exec.Command("uname", "-r").Output()
	r.Kernel = strings.TrimSpace(string(u))
	r.CPUs = runtime.NumCPU()
	if err := os.WriteFile(*outPath, []byte(r.markdown()), 0o644); err != nil {
		fail(err.Error())
	}
	fmt.Print(r.markdown())
	// Losing events is a failure, not a figure: trace_exec must report every exec.
	if r.BurstLost > 0 || r.BurstSeen != r.BurstWant {
		fail(fmt.Sprintf("the parallel burst lost events: %d of %d seen, %d lost", r.BurstSeen, r.BurstWant, r.BurstLost))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "runbench:", msg)
	os.Exit(1)
}

func uniqueExecutable() string {
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		fail(err.Error())
	}
	dir, _ := os.MkdirTemp("", "runbench-")
	var x [5]byte
	rand.Read(x[:])
	p := filepath.Join(dir, "rb"+hex.EncodeToString(x[:]))
	if err := os.WriteFile(p, b, 0o755); err != nil {
		fail(err.Error())
	}
	return p
}

// run runs a workload and returns the CPU time it and its children used.
func run(name string, args ...string) time.Duration {
	c := exec.Command(name, args...)
	if out, err := c.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("%s %v: %v: %s", name, args, err, out))
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var stderrSeen = map[string]bool{}

// tracer is a running gadgetry.
type tracer struct {
	stderr bytes.Buffer
	cmd    *exec.Cmd
	lines  chan string
	events atomic.Int64
	last   string // the summary, {"summary":...}
	// summaryFile is where the run writes its summary (--summary-file).
	summaryFile string
	done        chan struct{}
}

func startTracer(args ...string) *tracer { return startRef(*ref, args...) }

// startRef runs `gadgetry run REF -o json ARGS...`, counting the events it prints.
func startRef(ref string, args ...string) *tracer {
	t := &tracer{lines: make(chan string, 1), done: make(chan struct{})}
	f, err := os.CreateTemp("", "runbench-summary-")
	if err != nil {
		fail(err.Error())
	}
	f.Close()
	t.summaryFile = f.Name()
	t.cmd = exec.Command(*gadgetry, append([]string{"run", ref, "-o", "json", "--summary-file", t.summaryFile}, args...)...)
	out, _ := t.cmd.StdoutPipe()
	t.cmd.Stderr = &t.stderr
	if err := t.cmd.Start(); err != nil {
		fail(err.Error())
	}
	go func() {
		defer close(t.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		first := true
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, `{"summary"`) {
				t.last = l
				continue
			}
			t.events.Add(1)
			if first {
				first = false
				t.lines <- l
			}
		}
	}()
	return t
}

// stop sends SIGINT and returns the CPU time the tracer used and its peak RSS (KiB).
func (t *tracer) stop() (cpu time.Duration, rssKiB int64) {
	t.cmd.Process.Signal(os.Interrupt)
	<-t.done
	err := t.cmd.Wait()
	// Each distinct line of the tracers' stderr (a warning about a missing hook, say) is shown
	// once, not once per run.
	for _, l := range strings.Split(strings.TrimSpace(t.stderr.String()), "\n") {
		if l != "" && !stderrSeen[l] {
			stderrSeen[l] = true
			fmt.Fprintln(os.Stderr, l)
		}
	}
	// 130 is gadgetry's status after the SIGINT that ended it.
	if err != nil && t.cmd.ProcessState.ExitCode() != 130 {
		fail(fmt.Sprintf("%v: %v", t.cmd.Args, err))
	}
	b, err := os.ReadFile(t.summaryFile)
	os.Remove(t.summaryFile)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		fail(fmt.Sprintf("%v: no summary in %s: %v", t.cmd.Args, t.summaryFile, err))
	}
	t.last = `{"summary":` + string(bytes.TrimSpace(b)) + `}`
	ru := t.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Maxrss
}

func (t *tracer) lost() uint64 {
	var s struct {
		Summary struct {
			DataSources map[string]struct{ Events, Lost uint64 }
		}
	}
	json.Unmarshal([]byte(t.last), &s)
	var n uint64
	for _, d := range s.Summary.DataSources {
		n += d.Lost
	}
	return n
}

func timeToFirstEvent(ref, exe, comm string) time.Duration {
	start := time.Now()
	t := startRef(ref, "--comm", comm)
	stopExec := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopExec:
				return
			default:
				exec.Command(exe).Run()
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	select {
	case <-t.lines:
	case <-time.After(30 * time.Second):
		fail("no event within 30s")
	}
	d := time.Since(start)
	close(stopExec)
	t.stop()
	return d
}

// measure is one workload timed without and with the tracers over several rounds.
type measure struct {
	// ratios: traced CPU time of the workload / the round's untraced CPU time (the mean of its
	// two untraced runs); noise: the round's second
	// untraced run / its first (the same workload twice: what the machine's noise alone gives).
	ratios, noise []float64
	// variants: the same ratios under each other tracer run beside the measured one.
	variants [][]float64
	// variantCPU and variantEvents: each variant tracer's threads' CPU while the workload ran
	// and the events it printed meanwhile (summed over rounds).
	variantCPU    []time.Duration
	variantEvents []int64
	// Medians of the workload's CPU time and wall clock, untraced and traced.
	baseCPU, tracedCPU, base, traced time.Duration
	// The tracer's threads' CPU while the workload ran, the events it printed meanwhile, and the
	// kernel's account of the tracer's programs over the same window (summed over rounds).
	tracerCPU time.Duration
	events    int64
	bpf       time.Duration
	bpfRuns   uint64
	bpfNames  []string
}

// compare runs work untraced, under the floor tracer (when -floor is set), under the tracer
// (every event, JSON to a pipe) and untraced again in each of *rounds rounds, the order rotating
// from round to round so that neither the shared machine's load nor the position in the round
// favours one; each slowdown is the median of the rounds' ratios.
func compare(work func() time.Duration, variants ...variant) measure {
	var m measure
	var baseCPU, tracedCPU, base, traced []time.Duration
	bpfStats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		fail("enabling BPF run-time statistics: " + err.Error())
	}
	defer bpfStats.Close()
	untraced := func() time.Duration {
		s := time.Now()
		c := work()
		base = append(base, time.Since(s))
		baseCPU = append(baseCPU, c)
		return c
	}
	under := func(k int, v variant) time.Duration {
		t := startRef(v.ref, v.args...)
		time.Sleep(300 * time.Millisecond) // let it attach (startup is measured separately)
		ev0, cpu0 := t.events.Load(), stats.ThreadsCPU(t.cmd.Process.Pid)
		c := work()
		time.Sleep(100 * time.Millisecond) // > the 50 ms drain bound: the last records are out
		m.variantCPU[k] += stats.ThreadsCPU(t.cmd.Process.Pid) - cpu0
		m.variantEvents[k] += t.events.Load() - ev0
		t.stop()
		return c
	}
	underTracer := func() time.Duration {
		before := programIDs()
		t := startTracer()
		time.Sleep(300 * time.Millisecond)
		progs := newPrograms(before)
		ev0, cpu0, st0 := t.events.Load(), stats.ThreadsCPU(t.cmd.Process.Pid), progStats(progs)
		s := time.Now()
		c := work()
		traced = append(traced, time.Since(s))
		tracedCPU = append(tracedCPU, c)
		time.Sleep(100 * time.Millisecond) // > the 50 ms drain bound: the last records are out
		cpu1, st1 := stats.ThreadsCPU(t.cmd.Process.Pid), progStats(progs)
		m.tracerCPU += cpu1 - cpu0
		m.events += t.events.Load() - ev0
		m.bpf += st1.runtime - st0.runtime
		m.bpfRuns += st1.runs - st0.runs
		if m.bpfNames == nil {
			m.bpfNames = progNames(progs)
		}
		for _, p := range progs {
			p.Close()
		}
		t.stop()
		return c
	}
	work() // warm-up: page cache, bash
	slots := 3 + len(variants)
	m.variants = make([][]float64, len(variants))
	m.variantCPU = make([]time.Duration, len(variants))
	m.variantEvents = make([]int64, len(variants))
	for i := 0; i < *rounds; i++ {
		var u1, u2, tr time.Duration
		vs := make([]time.Duration, len(variants))
		for j := 0; j < slots; j++ {
			switch k := (i + j) % slots; k {
			case 0:
				u1 = untraced()
			case 1:
				tr = underTracer()
			case 2:
				u2 = untraced()
			default:
				vs[k-3] = under(k-3, variants[k-3])
			}
		}
		mean := float64(u1+u2) / 2
		m.ratios = append(m.ratios, float64(tr)/mean)
		for k, v := range vs {
			m.variants[k] = append(m.variants[k], float64(v)/mean)
		}
		m.noise = append(m.noise, float64(u2)/float64(u1))
	}
	m.baseCPU, m.tracedCPU = stats.Median(baseCPU), stats.Median(tracedCPU)
	m.base, m.traced = stats.Median(base), stats.Median(traced)
	return m
}

// variant is another tracer measured beside the one under test.
type variant struct {
	ref  string
	args []string
}

// programIDs lists the BPF programs loaded now.
func programIDs() map[ebpf.ProgramID]bool {
	ids := map[ebpf.ProgramID]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return ids
		}
		ids[next], id = true, next
	}
}

// newPrograms opens the programs loaded since before: the tracer's (the benchmark runs one
// tracer at a time; a program another process loads meanwhile would be counted too).
func newPrograms(before map[ebpf.ProgramID]bool) []*ebpf.Program {
	var progs []*ebpf.Program
	for id := range programIDs() {
		if before[id] {
			continue
		}
		if p, err := ebpf.NewProgramFromID(id); err == nil {
			progs = append(progs, p)
		}
	}
	return progs
}

type runStats struct {
	runtime time.Duration
	runs    uint64
}

func progStats(progs []*ebpf.Program) runStats {
	var s runStats
	for _, p := range progs {
		if st, err := p.Stats(); err == nil {
			s.runtime += st.Runtime
			s.runs += st.RunCount
		}
	}
	return s
}

func progNames(progs []*ebpf.Program) []string {
	names := []string{}
	for _, p := range progs {
		if info, err := p.Info(); err == nil {
			if st, err := p.Stats(); err == nil && st.RunCount > 0 {
				names = append(names, info.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// idleCPU returns the tracer's CPU time per second when no event matches (its threads' CPU over
// d, after startup).
func idleCPU(d time.Duration) time.Duration {
	t := startTracer("--comm", "no-such-comm")
	time.Sleep(500 * time.Millisecond)
	c0 := stats.ThreadsCPU(t.cmd.Process.Pid)
	time.Sleep(d)
	c1 := stats.ThreadsCPU(t.cmd.Process.Pid)
	t.stop()
	return time.Duration(float64(c1-c0) / d.Seconds())
}

// bpfMapRSS sums the resident KiB of a process's BPF map mappings (the ring buffers: the kernel
// maps a ring's data pages twice and populates them at mmap time).
func bpfMapRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0
	}
	var total int64
	inMap := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			inMap = len(f) >= 6 && strings.HasPrefix(f[5], "anon_inode:bpf-map")
			continue
		}
		if inMap && len(f) >= 2 && f[0] == "Rss:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			total += kb
		}
	}
	return total
}

func parallelBurst(exe, comm string, n int) (seen int, lost uint64, rss, mapRSS int64) {
	t := startTracer("--comm", comm)
	// Wait until attached: one event of ours.
	for {
		exec.Command(exe).Run()
		select {
		case <-t.lines:
			goto ready
		case <-time.After(20 * time.Millisecond):
		}
	}
ready:
	time.Sleep(200 * time.Millisecond) // the readiness probes' events are all in
	probes := t.events.Load()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				exec.Command(exe).Run()
			}
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // > the 50ms drain bound
	mapRSS = bpfMapRSS(t.cmd.Process.Pid)
	_, rss = t.stop()
	return int(t.events.Load() - probes), t.lost(), rss, mapRSS
}

type report struct {
	Ref, When, Kernel    string
	CPUs                 int
	FirstEvent           time.Duration
	FirstEventAll        []time.Duration
	FloorFirstEvent      time.Duration // zero without -floor
	Loop, Getpid         measure
	IdleCPU              time.Duration // per second
	BurstWant, BurstSeen int
	BurstLost            uint64
	PeakRSS, MapRSS      int64 // KiB
}

func pct(base, traced time.Duration) float64 {
	return (float64(traced)/float64(base) - 1) * 100
}

func (r *report) markdown() string {
	var b bytes.Buffer
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	rg := func(v []float64) string { // the range of per-round ratios, as percentages
		lo, hi := v[0], v[0]
		for _, x := range v {
			lo, hi = min(lo, x), max(hi, x)
		}
		return fmt.Sprintf("%+.1f to %+.1f %%", (lo-1)*100, (hi-1)*100)
	}
	l := r.Loop
	w("# Benchmarks\n\n")
	w("Written by `make bench` (`bench/run.sh`, driver `bench/runbench`). Measured %s on kernel %s, %d CPUs\n", r.When, r.Kernel, r.CPUs)
	w("(shared with other work: read the noise rows before the slowdowns), gadget `%s`.\n\n", r.Ref)
	w("| measure | result | goal |\n|---|---|---|\n")
	w("| time from `gadgetry run` to its first event (median of %d) | %.3f s | < 0.1 s (IG: 0.30 s) |\n", len(r.FirstEventAll), r.FirstEvent.Seconds())
	if r.FloorFirstEvent > 0 {
		w("| ↳ the floor: the same for the minimal exec tracer, runs alternating | %.3f s (%s takes %.2f× the floor's) | |\n", r.FloorFirstEvent.Seconds(), r.Ref, r.FirstEvent.Seconds()/r.FloorFirstEvent.Seconds())
	}
	w("| peak RSS during a 4-way burst of %d execs | %.1f MiB, of which %.1f MiB are the gadget's ring buffer as the kernel maps it | < 40 MiB |\n", r.BurstWant, float64(r.PeakRSS)/1024, float64(r.MapRSS)/1024)
	w("| lost events in a 4-way parallel burst of %d execs | %d lost, %d of %d seen | none |\n", r.BurstWant, r.BurstLost, r.BurstSeen, r.BurstWant)
	perExec := float64(l.baseCPU.Nanoseconds()) / float64(*loops) / 1000 // µs of CPU per loop iteration
	var kernelUS, userUS float64
	if l.bpfRuns > 0 {
		kernelUS = float64(l.bpf.Nanoseconds()) / float64(l.events) / 1000
	}
	if l.events > 0 {
		userUS = float64(l.tracerCPU.Nanoseconds()) / float64(l.events) / 1000
	}
	w("| CPU the tracer adds per exec of the bash loop, on a %.0f µs (CPU) iteration: its eBPF programs (kernel's run-time statistics) + gadgetry's user space (below) | %.1f µs + %.1f µs = **%.1f %%** | < 4 %% |\n",
		perExec, kernelUS, userUS, (kernelUS+userUS)/perExec*100)
	w("| slowdown of a bash loop of %d × /bin/true, CPU time of the loop and its children: median of %d rounds' traced/untraced ratios (range of the rounds) | **%+.1f %%** (%s; %.2f s → %.2f s) | < 4 %% |\n",
		*loops, len(l.ratios), (stats.Median(l.ratios)-1)*100, rg(l.ratios), l.baseCPU.Seconds(), l.tracedCPU.Seconds())
	if len(l.variants) > 0 {
		w("| the floor: the same loop under a minimal exec tracer (one small record per exec, through `gadgetry run`) | %+.1f %% (%s) | |\n", (stats.Median(l.variants[0])-1)*100, rg(l.variants[0]))
	}
	w("| noise: the same loop untraced twice in each round (second/first) | %+.1f %% (%s) | |\n", (stats.Median(l.noise)-1)*100, rg(l.noise))
	w("| same loop, wall clock (medians) | %+.1f %% (%.2f s → %.2f s) | |\n", pct(l.base, l.traced), l.base.Seconds(), l.traced.Seconds())
	g := r.Getpid
	w("| slowdown of a tight loop of %d getpid calls, CPU time: median ratio (range) | %+.1f %% (%s) | < 2 %% (nothing of the tracer runs on this path: next row; compare with the noise row) |\n", *getpids, (stats.Median(g.ratios)-1)*100, rg(g.ratios))
	w("| the tracer's eBPF programs on the getpid path: runs while the getpid loops ran (kernel's statistics; execs elsewhere on the machine count too) | %d runs for %d getpid calls | 0 per call |\n", g.bpfRuns, *getpids*len(g.ratios))
	w("| the getpid loop under `%s --ignore-failed=false` (execve syscall tracepoints attached: the kernel's syscall-tracing path on every syscall) | %+.1f %% (%s; %.0f ns per call) | said in its help |\n",
		r.Ref, (stats.Median(g.variants[0])-1)*100, rg(g.variants[0]), (stats.Median(g.variants[0])-1)*float64(g.baseCPU.Nanoseconds())/float64(*getpids))
	w("| noise: the getpid loop untraced twice | %+.1f %% (%s) | |\n", (stats.Median(g.noise)-1)*100, rg(g.noise))
	if l.events > 0 {
		w("| gadgetry CPU per event: its threads' CPU while the loop ran (schedstat; decoding, JSON to a pipe, and the ring checks), over the %d events it printed | **%.1f µs** | < 20 µs |\n", l.events, userUS)
		if len(l.variantEvents) > 0 && l.variantEvents[0] > 0 {
			floorUS := float64(l.variantCPU[0].Nanoseconds()) / float64(l.variantEvents[0]) / 1000
			w("| ↳ the floor: the minimal exec tracer's CPU per event in the same rounds, over its %d events | %.1f µs (%s costs %.2f× the floor) | |\n", l.variantEvents[0], floorUS, r.Ref, userUS/floorUS)
		}
	}
	w("| gadgetry CPU while idle (no matching event; its threads' CPU over 2 s) | %.2f ms per second | |\n", float64(r.IdleCPU.Microseconds())/1000)
	w("\nStartup samples: %v. Programs counted in the kernel figure: %s (%d runs for %d events).\n", r.FirstEventAll, strings.Join(l.bpfNames, ", "), l.bpfRuns, l.events)
	w("Per-round loop ratios: %s; noise: %s.\n", pcts(l.ratios), pcts(l.noise))
	return b.String()
}

func pcts(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%+.1f", (x-1)*100))
	}
	return strings.Join(s, " ")
}
