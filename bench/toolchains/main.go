// Command toolchains compares a gadget's WASM module built with standard Go and with TinyGo:
// module size, wazero compile time with a cold cache, and gadgetry's CPU per event, each
// toolchain's figure measured in the same run, rounds alternating. bench/toolchains.sh builds
// what it needs and calls it; run it as root. It prints a markdown section.
//
//	toolchains -gadgetry bin/gadgetry -rounds 5
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/gadgetry/gadgetry/oci/build"

	"github.com/gadgetry/gadgetry/bench/internal/stats"
)

var (
	gadgetry = flag.String("gadgetry", "bin/gadgetry", "the gadgetry binary")
	rounds   = flag.Int("rounds", 5, "rounds of each measurement, alternating the toolchains")
	execs    = flag.Int("execs", 1000, "execs per round for exec_annotate")
	calls    = flag.Int("calls", 5000, "getppid calls per round for traceloop")
	repo     = flag.String("repo", ".", "the repository root")
)

// gadget is one gadget measured.
type gadget struct {
	name, dir string
	params    []string
	// noWASM can run without its module (the baseline that isolates the guest's cost).
	noWASM bool
	// byComm runs the gadget with --comm of the workload's executable.
	byComm bool
	// workload runs n events' worth of work in a process named comm; count tells whether an
	// output line is one of those events.
	workload func(exe string, n int)
	perRound int
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
		fail("toolchains must run as root (it loads eBPF programs)")
	}
	if _, err := build.TinyGoPath(); err != nil {
		fmt.Println("\n## Go and TinyGo guests\n\nNot measured: TinyGo is not installed on this machine (tinygo in PATH or $TINYGO).")
		return
	}
	work, err := os.MkdirTemp("", "toolchains-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(work)
	self, _ := os.Executable()
	gadgets := []gadget{
		{name: "exec_annotate", dir: "examples/exec_annotate", noWASM: true, perRound: *execs,
			workload: func(exe string, n int) {
				for i := 0; i < n; i++ {
					_ = exec.Command(exe).Run()
				}
			}},
		// --comm: only the workload's own getppid calls (another process's would fill the ring).
		{name: "traceloop", dir: "gadgets/traceloop", params: []string{"--stream", "--syscall-filters=getppid"}, byComm: true, perRound: *calls,
			workload: func(exe string, n int) {
				_ = exec.Command(exe, "getppid", fmt.Sprint(n)).Run()
			}},
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n## Go and TinyGo guests\n\n")
	fmt.Fprintf(&out, "`bench/toolchains.sh` (%s, %d rounds): the same gadget's module built with each toolchain by `gadgetry image build` (Go: `GOOS=wasip1`; TinyGo: `-scheduler=none -no-debug -opt=s`, 4 MiB initial memory), measured in the same run, rounds alternating.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), *rounds)
	fmt.Fprintf(&out, "| gadget | toolchain | module size | wazero compile, cold cache (median) | gadgetry CPU per event (median of rounds) |\n|---|---|---|---|---|\n")
	for _, g := range gadgets {
		images := map[string]string{}
		for _, tc := range []string{build.ToolchainGo, build.ToolchainTinyGo} {
			mod, err := build.WASM(context.Background(), filepath.Join(*repo, g.dir, "go"), build.Options{WASMToolchain: tc})
			if err != nil {
				fail("building %s with %s: %v", g.name, tc, err)
			}
			images[tc] = imageOf(work, g, tc, true)
			sizes[g.name+tc] = len(mod)
			compiles[g.name+tc] = compileTime(mod)
		}
		if g.noWASM {
			images["none"] = imageOf(work, g, "none", false)
		}
		exe := uniqueExecutable(work, self, g.name == "traceloop")
		perEvent := map[string][]float64{}
		order := []string{build.ToolchainGo, build.ToolchainTinyGo}
		if g.noWASM {
			order = append(order, "none")
		}
		for r := 0; r < *rounds; r++ {
			for i := range order {
				v := order[(i+r)%len(order)]
				perEvent[v] = append(perEvent[v], cpuPerEvent(work, images[v], g, exe))
			}
		}
		base := 0.0
		if g.noWASM {
			base = stats.Median(perEvent["none"])
		}
		for _, tc := range []string{build.ToolchainGo, build.ToolchainTinyGo} {
			pe := stats.Median(perEvent[tc])
			guest := ""
			if g.noWASM {
				guest = fmt.Sprintf(" (%.1f µs over the same gadget without its module)", pe-base)
			}
			fmt.Fprintf(&out, "| %s | %s | %d KiB | %.0f ms | %.1f µs%s |\n", g.name, tc, sizes[g.name+tc]/1024, compiles[g.name+tc], pe, guest)
		}
		if g.noWASM {
			fmt.Fprintf(&out, "| %s | (no module) | | | %.1f µs |\n", g.name, base)
		}
		ratioSize := float64(sizes[g.name+"tinygo"]) / float64(sizes[g.name+"go"])
		ratioCompile := compiles[g.name+"tinygo"] / compiles[g.name+"go"]
		ratioCPU := stats.Median(perEvent["tinygo"]) / stats.Median(perEvent["go"])
		notes = append(notes, fmt.Sprintf("- %s: TinyGo's module is %.2f× the size of Go's, compiles in %.2f× the time and costs %.2f× the CPU per event.", g.name, ratioSize, ratioCompile, ratioCPU))
	}
	fmt.Fprintln(&out)
	for _, n := range notes {
		fmt.Fprintln(&out, n)
	}
	fmt.Fprintln(&out, "\nCPU per event is gadgetry's threads' CPU (schedstat) while the round's events were read, decoded, passed through the module and printed as JSON to a pipe, divided by the events; exec_annotate's row without a module isolates what the guest adds. Compile time is wazero's optimizing compiler on a fresh runtime without a compilation cache, as on the first run of an image.")
	os.Stdout.Write(out.Bytes())
}

var (
	sizes    = map[string]int{}
	compiles = map[string]float64{}
	notes    []string
)

// imageOf builds g into the store under work with the toolchain tc ("none": without go/) and
// returns its tag.
func imageOf(work string, g gadget, tc string, withWASM bool) string {
	dir := filepath.Join(work, g.name+"-"+tc)
	if err := exec.Command("cp", "-r", filepath.Join(*repo, g.dir), dir).Run(); err != nil {
		fail("copying %s: %v", g.dir, err)
	}
	args := []string{"image", "build", "--arch", "amd64", "--store", filepath.Join(work, "store"), "-t", g.name + ":" + tc, dir}
	if withWASM {
		args = append(args, "--wasm-toolchain="+tc)
	} else if err := os.RemoveAll(filepath.Join(dir, "go")); err != nil {
		fail("%v", err)
	}
	if out, err := exec.Command(*gadgetry, args...).CombinedOutput(); err != nil {
		fail("gadgetry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return g.name + ":" + tc
}

// compileTime is the median of five cold compilations of the module.
func compileTime(mod []byte) float64 {
	var ts []float64
	for i := 0; i < 5; i++ {
		ctx := context.Background()
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig())
		start := time.Now()
		if _, err := r.CompileModule(ctx, mod); err != nil {
			fail("compiling: %v", err)
		}
		ts = append(ts, float64(time.Since(start).Microseconds())/1000)
		r.Close(ctx)
	}
	return stats.Median(ts)
}

// uniqueExecutable returns a uniquely named copy of /bin/true, or of this program for the
// getppid workload.
func uniqueExecutable(work, self string, getppid bool) string {
	src := "/bin/true"
	if getppid {
		src = self
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	p := filepath.Join(work, "tc"+hex.EncodeToString(r[:]))
	b, err := os.ReadFile(src)
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(p, b, 0o755); err != nil {
		fail("%v", err)
	}
	return p
}

// cpuPerEvent runs the image, waits until it reports a warm-up event of exe, runs the workload
// and returns gadgetry's CPU per event (µs) once it has printed every event of the workload.
func cpuPerEvent(work, image string, g gadget, exe string) float64 {
	comm := filepath.Base(exe)
	args := append([]string{"run", image, "--store", filepath.Join(work, "store"), "-o", "json"}, g.params...)
	if g.byComm {
		args = append(args, "--comm", comm)
	}
	cmd := exec.Command(*gadgetry, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		fail("%v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	events := make(chan struct{}, 1<<20)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if p, ok := ev["proc"].(map[string]any); ok && p["comm"] == comm {
				events <- struct{}{}
			}
		}
		close(events)
	}()
	// Warm up until the run reports the workload, then drain.
	warm := false
	for i := 0; i < 600 && !warm; i++ {
		g.workload(exe, 1)
		select {
		case _, ok := <-events:
			if !ok {
				fail("gadgetry %s ended: %s", strings.Join(args, " "), stderr.String())
			}
			warm = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !warm {
		fail("gadgetry %s reported no event: %s", strings.Join(args, " "), stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	for len(events) > 0 {
		<-events
	}
	before := stats.ThreadsCPU(cmd.Process.Pid)
	g.workload(exe, g.perRound)
	for got := 0; got < g.perRound; got++ {
		select {
		case _, ok := <-events:
			if !ok {
				fail("gadgetry %s ended after %d of %d events: %s", strings.Join(args, " "), got, g.perRound, stderr.String())
			}
		case <-time.After(60 * time.Second):
			fail("gadgetry %s printed %d of %d events (lost?): %s", strings.Join(args, " "), got, g.perRound, stderr.String())
		}
	}
	return float64((stats.ThreadsCPU(cmd.Process.Pid) - before).Nanoseconds()) / 1000 / float64(g.perRound)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "toolchains: "+format+"\n", args...)
	os.Exit(1)
}
