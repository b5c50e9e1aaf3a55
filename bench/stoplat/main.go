// Command stoplat measures how long `gadgetry run` takes to exit after SIGINT while a flood
// of records outruns it, and how its memory behaves during a long flood. bench/stoplat.sh
// builds what it needs and calls it; run it as root. It prints a markdown section.
//
//	stoplat -gadgetry bin/gadgetry -store STORE -runs 20 -rss-seconds 60
//
// Configurations (each run: start, wait for the first event, flood for -flood, SIGINT, time
// until the process has exited), the order rotating from run to run:
//   - traceloop --stream: the built-in, with its WASM module, no filter (every syscall)
//     while a child calls getppid as fast as it can;
//   - traceloop, no module: the same image built without go/;
//   - trace_exec: the built-in (no WASM module) while a shell execs /bin/true in a loop;
//   - exec_annotate: examples/exec_annotate (an exec tracer with a WASM module), same loop.
//
// Then -rss-seconds of the traceloop flood, its resident memory sampled every second.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gadgetry/gadgetry/bench/internal/stats"
)

var (
	gadgetry   = flag.String("gadgetry", "bin/gadgetry", "the gadgetry binary")
	store      = flag.String("store", "", "the store holding traceloop:nomodule and exec_annotate:bench")
	runs       = flag.Int("runs", 20, "runs per configuration")
	flood      = flag.Duration("flood", time.Second, "how long each run floods before SIGINT")
	rssSeconds = flag.Int("rss-seconds", 60, "seconds of the memory measurement (0 skips it)")
	label      = flag.String("label", "", "what -gadgetry is (e.g. a commit), for the report")
)

// config is one way of running gadgetry under a flood.
type config struct {
	name  string
	args  []string
	flood []string // the workload's command
}

func main() {
	flag.Parse()
	if len(flag.Args()) == 1 && flag.Arg(0) == "getppid" {
		for {
			syscall.Getppid()
		}
	}
	self, err := os.Executable()
	if err != nil {
		fail("%v", err)
	}
	execLoop := []string{"sh", "-c", "while :; do /bin/true; done"}
	configs := []config{
		{"traceloop", []string{"run", "traceloop", "--stream"}, []string{self, "getppid"}},
		{"traceloop, no module", []string{"run", "traceloop:nomodule", "--pull", "never", "--stream"}, []string{self, "getppid"}},
		{"trace_exec", []string{"run", "trace_exec"}, execLoop},
		{"exec_annotate", []string{"run", "exec_annotate:bench", "--pull", "never"}, execLoop},
	}
	lat := make([][]time.Duration, len(configs))
	for r := range *runs {
		for k := range configs {
			c := configs[(k+r)%len(configs)]
			i := slices.IndexFunc(configs, func(x config) bool { return x.name == c.name })
			d, err := stopLatency(c)
			if err != nil {
				fail("%s, run %d: %v", c.name, r+1, err)
			}
			lat[i] = append(lat[i], d)
			fmt.Fprintf(os.Stderr, "run %d %-22s stopped in %v\n", r+1, c.name, d.Round(time.Millisecond))
		}
	}
	var rss []int
	if *rssSeconds > 0 {
		rss = memory(configs[0], *rssSeconds)
	}
	report(configs, lat, rss)
}

// start runs gadgetry with args and -o json, its stdout read by a goroutine that reports the
// first line and discards the rest; it returns the process and a channel closed at the first
// line.
func start(args []string) (*exec.Cmd, <-chan struct{}) {
	cmd := exec.Command(*gadgetry, append([]string{"--store", *store}, append(args, "-o", "json")...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		fail("%v", err)
	}
	first := make(chan struct{})
	go func() {
		rd := bufio.NewReaderSize(out, 1<<20)
		once := false
		for {
			if _, err := rd.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return
			}
			if !once {
				once = true
				close(first)
			}
		}
	}()
	return cmd, first
}

// workload starts the flood.
func workload(c config) *exec.Cmd {
	w := exec.Command(c.flood[0], c.flood[1:]...)
	w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.Start(); err != nil {
		fail("%v", err)
	}
	return w
}

func stopWorkload(w *exec.Cmd) {
	_ = syscall.Kill(-w.Process.Pid, syscall.SIGKILL)
	_ = w.Wait()
}

// stopLatency runs c once and returns the time from SIGINT to the process's exit.
func stopLatency(c config) (time.Duration, error) {
	w := workload(c)
	defer stopWorkload(w)
	cmd, first := start(c.args)
	select {
	case <-first:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("no event within a minute")
	}
	time.Sleep(*flood)
	t0 := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	d := time.Since(t0)
	if err != nil && !strings.Contains(err.Error(), "130") {
		return d, fmt.Errorf("gadgetry: %v", err)
	}
	return d, nil
}

// memory floods c for seconds and samples gadgetry's resident memory (KiB) every second.
func memory(c config, seconds int) []int {
	w := workload(c)
	defer stopWorkload(w)
	cmd, first := start(c.args)
	<-first
	var rss []int
	for range seconds {
		time.Sleep(time.Second)
		rss = append(rss, vmRSS(cmd.Process.Pid))
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	return rss
}

func vmRSS(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func report(configs []config, lat [][]time.Duration, rss []int) {
	host, _ := os.Hostname()
	_ = host
	fmt.Printf("\n## Stopping under a flood\n\n")
	fmt.Printf("`bench/stoplat.sh` (%s, `gadgetry` %s, %d runs per configuration, the order rotating): each run starts `gadgetry run ... -o json` (stdout read from a pipe), waits for its first event, lets the flood run %v, sends SIGINT and times the exit.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), *label, *runs, *flood)
	fmt.Printf("| configuration | workload | stop latency, median | max |\n|---|---|---:|---:|\n")
	for i, c := range configs {
		l := lat[i]
		fmt.Printf("| %s | %s | %v | %v |\n", c.name, strings.Join(c.flood[len(c.flood)-1:], " "), stats.Median(l).Round(time.Millisecond), slices.Max(l).Round(time.Millisecond))
	}
	if len(rss) > 0 {
		fmt.Printf("\nResident memory of `gadgetry run traceloop` (no filter, the getppid flood), sampled every second for %d s: ", len(rss))
		var parts []string
		for _, s := range []int{1, 5, 10, 30, len(rss)} {
			if s <= len(rss) {
				parts = append(parts, fmt.Sprintf("%d s: %.1f MiB", s, float64(rss[s-1])/1024))
			}
		}
		fmt.Printf("%s; the largest sample %.1f MiB.\n", strings.Join(parts, ", "), float64(slices.Max(rss))/1024)
	}
}

func fail(f string, args ...any) {
	fmt.Fprintf(os.Stderr, "stoplat: "+f+"\n", args...)
	os.Exit(1)
}
