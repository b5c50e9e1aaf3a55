// Command wasmrate measures how many records per second `gadgetry run traceloop --stream -o
// json` gets through with and without its WASM module, on the same workload in the same run,
// rounds alternating: a child calls getppid as fast as it can, the run selects it with --comm
// (in the kernel), and its JSON lines are counted from a pipe. bench/wasmrate.sh builds what it
// needs and calls it; run it as root. It prints a markdown section.
//
//	wasmrate -gadgetry bin/gadgetry [-before OLD_GADGETRY -before-repo OLD_CHECKOUT] -rounds 5 -calls 400000
//
// Configurations: "no module" (the traceloop image built without go/: every syscall is
// recorded, nothing decodes arguments), "module" (the image built by -gadgetry, with its SDK),
// and with -before, "module, before" (the image and the run of an older gadgetry binary, the
// gadget's source from its checkout).
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gadgetry/gadgetry/bench/internal/stats"
	"github.com/gadgetry/gadgetry/oci/build"
)

var (
	gadgetry = flag.String("gadgetry", "bin/gadgetry", "the gadgetry binary")
	before   = flag.String("before", "", "an older gadgetry binary to compare with (its own SDK builds its image)")
	beforeR  = flag.String("before-repo", "", "the checkout of -before, whose gadgets/traceloop it builds (default -repo)")
	rounds   = flag.Int("rounds", 5, "rounds, each running every configuration once")
	calls    = flag.Int("calls", 400000, "getppid calls of the workload per round")
	repo     = flag.String("repo", ".", "the repository root")
	label    = flag.String("label", "", "what -gadgetry is (e.g. a commit), for the report")
	beforeL  = flag.String("before-label", "", "what -before is, for the report")
)

// config is one way of running traceloop.
type config struct {
	name, bin, image string
	args             []string
	// stdoutSummary: the binary prints its JSON summary as a {"summary":...} line on stdout
	// (before --summary-file); else it writes it to --summary-file.
	stdoutSummary bool
}

// result is one round of one configuration.
type result struct {
	delivered, lost int
	rate            float64 // records per second, from the workload's start to the last record
	cpu             float64 // gadgetry's CPU per delivered record, µs
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "getppid" {
		n, _ := strconv.Atoi(os.Args[2])
		for i := 0; i < n; i++ {
			syscall.Getppid()
		}
		return
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		fail("wasmrate must run as root (it loads eBPF programs)")
	}
	work, err := os.MkdirTemp("", "wasmrate-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(work)
	store := filepath.Join(work, "store")
	configs := []config{
		{name: "no module", bin: *gadgetry, image: imageOf(work, *gadgetry, *repo, store, "nomodule", false)},
		{name: "module", bin: *gadgetry, image: imageOf(work, *gadgetry, *repo, store, "module", true), args: []string{"--stream"}},
	}
	if *before != "" {
		src := *beforeR
		if src == "" {
			src = *repo
		}
		configs = append(configs, config{name: "module, before", bin: *before,
			image: imageOf(work, *before, src, store, "before", true), args: []string{"--stream"},
			stdoutSummary: !accepts(*before, "--summary-file")})
	}
	self, _ := os.Executable()
	exe, comm := uniqueExecutable(work, self)
	res := map[string][]result{}
	for r := 0; r < *rounds; r++ {
		for i := range configs {
			c := configs[(i+r)%len(configs)]
			x := measure(c, store, exe, comm)
			res[c.name] = append(res[c.name], x)
			fmt.Fprintf(os.Stderr, "round %d %-15s %8d delivered %8d lost %9.0f records/s %6.1f µs/record\n", r+1, c.name, x.delivered, x.lost, x.rate, x.cpu)
		}
	}
	report(configs, res)
}

// imageOf builds repo's gadgets/traceloop with bin into store, with or without its go/
// directory, and returns the tag.
func imageOf(work, bin, repo, store, tag string, module bool) string {
	dir := filepath.Join(work, "traceloop-"+tag)
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "gadgets", "traceloop"), dir).CombinedOutput(); err != nil {
		fail("copying gadgets/traceloop: %v\n%s", err, out)
	}
	if !module {
		if err := os.RemoveAll(filepath.Join(dir, "go")); err != nil {
			fail("%v", err)
		}
	}
	args := []string{"--store", store, "image", "build", "--arch", "amd64", "-t", "traceloop:" + tag, dir}
	if module && noTinyGo() {
		// build.yaml asks for TinyGo; without it the module is built with standard Go, and
		// the report says so.
		args = append(args, "--wasm-toolchain="+build.ToolchainGo)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		fail("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return "traceloop:" + tag
}

// noTinyGo reports whether no TinyGo is found (tinygo in PATH, or $TINYGO).
func noTinyGo() bool {
	_, err := build.TinyGoPath()
	return err != nil
}

// accepts reports whether bin's `run --help` mentions flag.
func accepts(bin, flag string) bool {
	out, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	return bytes.Contains(out, []byte(flag))
}

// uniqueExecutable copies this program under a name no other process has: its comm selects the
// workload's records in the kernel.
func uniqueExecutable(work, self string) (path, comm string) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	comm = "wr" + hex.EncodeToString(r[:])
	path = filepath.Join(work, comm)
	b, err := os.ReadFile(self)
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		fail("%v", err)
	}
	return path, comm
}

var lostRE = regexp.MustCompile(`warning: \d+ records of traceloop lost \(ring buffer full; (\d+) so far\)`)

// measure runs one configuration: it starts the run, warms up until the workload's records
// show, runs the workload, and waits until every one of its records was printed or reported
// lost.
func measure(c config, store, exe, comm string) result {
	args := append([]string{"--store", store, "run", c.image, "--pull", "never", "-o", "json", "--comm", comm}, c.args...)
	summaryFile := filepath.Join(filepath.Dir(store), "summary.json")
	if !c.stdoutSummary {
		_ = os.Remove(summaryFile)
		args = append(args, "--summary-file", summaryFile)
	}
	cmd := exec.Command(c.bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	stderrR, err := cmd.StderrPipe()
	if err != nil {
		fail("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("%v", err)
	}
	var (
		mu        sync.Mutex
		lines     int
		last      time.Time
		lostSoFar int
		stderr    bytes.Buffer
		summary   []byte
	)
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			b := sc.Bytes()
			if bytes.HasPrefix(b, []byte(`{"summary"`)) {
				mu.Lock()
				summary = append([]byte(nil), b...)
				mu.Unlock()
				continue
			}
			now := time.Now()
			mu.Lock()
			lines++
			last = now
			mu.Unlock()
		}
	}()
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		sc := bufio.NewScanner(io.TeeReader(stderrR, &lockedWriter{&mu, &stderr}))
		for sc.Scan() {
			if m := lostRE.FindSubmatch(sc.Bytes()); m != nil {
				n, _ := strconv.Atoi(string(m[1]))
				mu.Lock()
				lostSoFar = n
				mu.Unlock()
			}
		}
	}()
	snapshot := func() (int, int, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		return lines, lostSoFar, last
	}
	ended := func() string {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	// Warm up: the run is attached once the workload's records show.
	for i := 0; ; i++ {
		if i == 300 {
			fail("%s %s: no record of the workload after 30 s: %s", c.bin, strings.Join(args, " "), ended())
		}
		_ = exec.Command(exe, "getppid", "1").Run()
		time.Sleep(100 * time.Millisecond)
		if n, _, _ := snapshot(); n > 0 {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	lines0, lost0, _ := snapshot()
	cpu0 := stats.ThreadsCPU(cmd.Process.Pid)
	start := time.Now()
	if err := exec.Command(exe, "getppid", strconv.Itoa(*calls)).Run(); err != nil {
		fail("workload: %v", err)
	}
	// Every record of the workload (its getppid calls and the Go runtime's own syscalls) is
	// printed or counted lost: wait until the counts stop moving for a second.
	var n, lost int
	var lastAt time.Time
	for still, prev := 0, -1; still < 10; {
		time.Sleep(100 * time.Millisecond)
		n, lost, lastAt = snapshot()
		if n+lost == prev {
			still++
		} else {
			still, prev = 0, n+lost
		}
	}
	cpu1 := stats.ThreadsCPU(cmd.Process.Pid)
	errText := ended()
	<-outDone
	<-errDone
	got := result{delivered: n - lines0, lost: lost - lost0}
	if got.delivered > 0 {
		got.rate = float64(got.delivered) / lastAt.Sub(start).Seconds()
		got.cpu = float64((cpu1 - cpu0).Nanoseconds()) / 1000 / float64(got.delivered)
	}
	// The summary's totals include the warm-up: they check the live counts.
	var s struct {
		Summary struct {
			DataSources map[string]struct{ Events, Lost int } `json:"dataSources"`
		} `json:"summary"`
	}
	if !c.stdoutSummary {
		b, err := os.ReadFile(summaryFile)
		if err != nil {
			fail("%s: no summary file at exit (%v): %s", c.name, err, errText)
		}
		summary = append(append([]byte(`{"summary":`), bytes.TrimSpace(b)...), '}')
	}
	if err := json.Unmarshal(summary, &s); err != nil {
		fail("%s: no JSON summary at exit (%v): %s", c.name, err, errText)
	}
	if t := s.Summary.DataSources["traceloop"]; t.Events != n || t.Lost != lost {
		fail("%s: the summary says %d events, %d lost; the live output %d, %d", c.name, t.Events, t.Lost, n, lost)
	}
	return got
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func report(configs []config, res map[string][]result) {
	med := func(name string, f func(result) float64) float64 {
		var v []float64
		for _, r := range res[name] {
			v = append(v, f(r))
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	rate := func(r result) float64 { return r.rate }
	delivered := func(r result) float64 { return float64(r.delivered) }
	base, baseN := med("no module", rate), med("no module", delivered)
	var b strings.Builder
	fmt.Fprintf(&b, "\n## traceloop through its WASM module: records per second\n\n")
	what := "`-gadgetry` " + *label
	if *label == "" {
		what = "this checkout"
	}
	fmt.Fprintf(&b, "`bench/wasmrate.sh` (%s, %s, %d rounds of %d `getppid` calls): `gadgetry run traceloop --stream -o json --comm C` reading a child that calls `getppid` as fast as it can, its JSON lines counted from a pipe; each configuration once per round, the order rotating.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), what, *rounds, *calls)
	if noTinyGo() {
		fmt.Fprintf(&b, "TinyGo is not installed here (tinygo in PATH or $TINYGO): the module was built with standard Go, which costs more per record than the TinyGo module the catalogue ships (docs/benchmarks.md, \"Go and TinyGo guests\"); these figures do not measure the catalogue's traceloop.\n\n")
	}
	fmt.Fprintf(&b, "| configuration | records/s (median) | of the no-module rate | delivered / lost per round (median) | delivered, of the no-module count | gadgetry CPU per record (median) |\n|---|---:|---:|---|---:|---:|\n")
	for _, c := range configs {
		desc := c.name
		switch c.name {
		case "no module":
			desc = "no module (image without go/)"
		case "module":
			desc = "module (" + what + ")"
		case "module, before":
			desc = "module (`-before` " + *beforeL + ")"
		}
		r, n := med(c.name, rate), med(c.name, delivered)
		fmt.Fprintf(&b, "| %s | %.0f | %.0f %% | %.0f / %.0f | %.0f %% | %.1f µs |\n", desc, r, 100*r/base, n,
			med(c.name, func(r result) float64 { return float64(r.lost) }), 100*n/baseN,
			med(c.name, func(r result) float64 { return r.cpu }))
	}
	fmt.Fprintf(&b, "\nRecords per second are the workload's records printed, over the time from the workload's start to the last of them; the ring buffer (4 MiB, about 5,400 records) fills faster than any configuration reads it, so the rest are lost, counted by the kernel side and reported by the run (the lost column, `N records of traceloop lost`); the run's JSON summary at exit is checked against the live counts. Each round runs the same workload, so the delivered counts compare the configurations without the clock: the rate also follows how fast the workload runs, which the machine's other load moves from round to round. CPU per record is gadgetry's threads' CPU (schedstat) from the workload's start until every record was printed or counted lost, over the records printed.\n")
	os.Stdout.WriteString(b.String())
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wasmrate: "+format+"\n", args...)
	os.Exit(1)
}
