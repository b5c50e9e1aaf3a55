package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
	"github.com/gadgetry/gadgetry/k8sclient"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// The node daemon and its client without a cluster: two `gadgetry daemon` processes on this
// host, each standing for a node, reached directly (--daemons) by `gadgetry run`. Both see the
// same kernel, so every exec is reported once per "node", with its k8s.node.

var (
	k8sBinOnce sync.Once
	k8sBin     string
	k8sBinErr  error
)

// k8sTestBinary builds the gadgetry binary once per test process.
func k8sTestBinary(t *testing.T) string {
	t.Helper()
	gadgettest.RequireRoot(t)
	k8sBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gadgetry-k8s-bin-")
		if err != nil {
			k8sBinErr = err
			return
		}
		k8sBin = filepath.Join(dir, "gadgetry")
		if out, err := exec.Command("go", "build", "-o", k8sBin, ".").CombinedOutput(); err != nil {
			k8sBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if k8sBinErr != nil {
		t.Fatal(k8sBinErr)
	}
	return k8sBin
}

// testDaemon is a `gadgetry daemon` the test started.
type testDaemon struct {
	node, addr, metrics string
	cmd                 *exec.Cmd
	stderr              *gadgettest.SyncBuffer
	exited              chan struct{}
}

var daemonLine = regexp.MustCompile(`gRPC on (\S+), metrics on (\S+),`)

// startDaemon starts a daemon for node on free loopback ports and waits until it serves. It
// is stopped with SIGTERM when the test ends (unless the test killed it).
func startDaemon(t *testing.T, bin, node string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, bin, node, "")
}

// startDaemonWith starts a daemon whose container runtime's CRI socket is socket ("": none),
// with more flags and environment variables.
func startDaemonWith(t *testing.T, bin, node, socket string, extra ...string) *testDaemon {
	t.Helper()
	return startDaemonEnv(t, bin, node, socket, nil, extra...)
}

func startDaemonEnv(t *testing.T, bin, node, socket string, env []string, extra ...string) *testDaemon {
	t.Helper()
	d := &testDaemon{node: node, stderr: &gadgettest.SyncBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"daemon", "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--node-name", node, "--runtime-socket", socket}, extra...)...)
	if env != nil {
		d.cmd.Env = env
	}
	pr, pw := io.Pipe()
	d.cmd.Stderr = io.MultiWriter(d.stderr, pw)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = d.cmd.Wait()
		pw.Close()
		close(d.exited)
	}()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := daemonLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case m := <-found:
		d.addr, d.metrics = m[1], m[2]
	case <-d.exited:
		t.Fatalf("gadgetry daemon exited before serving: %s", d.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("gadgetry daemon did not serve within a minute: %s", d.stderr)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(time.Minute):
			_ = d.cmd.Process.Kill()
			t.Errorf("daemon %s did not stop within a minute of SIGTERM: %s", node, d.stderr)
		}
	})
	return d
}

// kill ends the daemon at once, as a node that dies would.
func (d *testDaemon) kill(t *testing.T) {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// metric returns the value of a metric line ("name{labels}" exactly) of the daemon's /metrics,
// -1 when it is absent.
func (d *testDaemon) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(d.metrics)
	if err != nil {
		t.Fatalf("scraping %s: %v", d.metrics, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, l)
			}
			return f
		}
	}
	return -1
}

// waitMetric waits until the metric satisfies ok (a minute at most: a hang guard).
func (d *testDaemon) waitMetric(t *testing.T, series string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v := d.metric(t, series)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: metric %s is %v after a minute", d.node, series, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunStderr waits until the run's stderr contains s (a minute at most).
func waitRunStderr(t *testing.T, r *gadgettest.CLIRun, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(r.Stderr(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr never said %q: %s", s, r.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDaemonsFanOut runs trace_exec on two daemons through one client: the events of both
// arrive merged, each with its node; the summary has each node's counts; one daemon killed
// mid-run is a warning naming it, the other goes on; Ctrl-C ends the run on the one left,
// whose metrics then count it, and nothing stays in the kernel.
func TestDaemonsFanOut(t *testing.T) {
	bin := k8sTestBinary(t)
	before := gadgettest.Objects(t, "trace_exec")
	n1 := startDaemon(t, bin, "node-a")
	n2 := startDaemon(t, bin, "node-b")
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	run := gadgettest.StartCLI(t, nil, bin, "run", "trace_exec", "--daemons", n1.addr+","+n2.addr,
		"-o", "json", "-F", "proc.comm=="+comm)
	execOnce := func() { _ = exec.Command(exe).Run() }
	byNode := func(node string) func(gadgettest.Event) bool {
		return func(e gadgettest.Event) bool { return e.Str("k8s.node") == node && e.Str("proc.comm") == comm }
	}
	a := run.WaitFor("an exec seen by node-a", byNode("node-a"), execOnce)
	b := run.WaitFor("an exec seen by node-b", byNode("node-b"), execOnce)
	// Both are attached by now: a later exec is reported by both, in one stream, each line
	// whole JSON (StartCLI parses them). "Later" by the kernel's clock, not by pid (pids wrap);
	// a second's margin covers the two daemons' slightly different boot-to-wall offsets.
	since := gadgettest.Latest(a.Time("timestamp"), b.Time("timestamp")).Add(time.Second)
	later := run.WaitFor("a later exec seen by node-a", func(e gadgettest.Event) bool {
		return byNode("node-a")(e) && e.Time("timestamp").After(since)
	}, execOnce)
	run.WaitFor("node-b's report of the same exec", func(e gadgettest.Event) bool {
		return byNode("node-b")(e) && e.Num("proc.pid") == later.Num("proc.pid")
	}, execOnce)

	n2.kill(t)
	waitRunStderr(t, run, "warning: node node-b: the run ended there")
	// node-a goes on: an exec after the kill is still reported.
	last := gadgettest.LatestTime(run.Matching(byNode("node-a")), "timestamp")
	run.WaitFor("an exec after node-b died", func(e gadgettest.Event) bool {
		return byNode("node-a")(e) && e.Time("timestamp").After(last)
	}, execOnce)
	summary := run.Stop()
	nodes, _ := summary["nodes"].(map[string]any)
	na, _ := nodes["node-a"].(map[string]any)
	exe1, _ := na["dataSources"].(map[string]any)["exec"].(map[string]any)
	if ev, _ := exe1["events"].(float64); ev < 3 {
		t.Errorf("node-a's summary counts %v exec events, want at least the 3 seen: %v", exe1["events"], summary)
	}
	failed, _ := summary["failed"].(map[string]any)
	if _, ok := failed["node-b"]; !ok {
		t.Errorf("the summary does not say node-b failed: %v", summary)
	}
	n1.waitMetric(t, "gadgetry_runs_active", func(v float64) bool { return v == 0 })
	if v := n1.metric(t, "gadgetry_runs_started_total"); v != 1 {
		t.Errorf("node-a: gadgetry_runs_started_total = %v, want 1", v)
	}
	if v := n1.metric(t, `gadgetry_events_total{gadget="trace_exec",datasource="exec"}`); v < 3 {
		t.Errorf("node-a: gadgetry_events_total for trace_exec/exec = %v, want at least 3", v)
	}
	if v := n1.metric(t, `gadgetry_records_lost_total{gadget="trace_exec",datasource="exec",stage="kernel"}`); v < 0 {
		t.Errorf("node-a: no kernel-stage loss counter for trace_exec/exec")
	}
	gadgettest.CheckClean(t, "trace_exec", before)
}

// TestDaemonClientGone: two clients run on one daemon at once; one is killed mid-run (no
// stop message, its connection just drops): the daemon stops that run at once, while the
// other goes on; once the other is stopped too, nothing of either stays in the kernel.
func TestDaemonClientGone(t *testing.T) {
	bin := k8sTestBinary(t)
	before := gadgettest.Objects(t, "trace_exec")
	d := startDaemon(t, bin, "node-a")
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	isExec := func(e gadgettest.Event) bool { return e.Str("proc.comm") == comm }
	execOnce := func() { _ = exec.Command(exe).Run() }
	gone := gadgettest.StartCLI(t, nil, bin, "run", "trace_exec", "--daemons", d.addr, "-o", "json", "-F", "proc.comm=="+comm)
	stays := gadgettest.StartCLI(t, nil, bin, "run", "trace_exec", "--daemons", d.addr, "-o", "json", "-F", "proc.comm=="+comm)
	gone.WaitFor("an exec", isExec, execOnce)
	stays.WaitFor("an exec", isExec, execOnce)
	if v := d.metric(t, "gadgetry_runs_active"); v != 2 {
		t.Fatalf("gadgetry_runs_active = %v with two clients running, want 2", v)
	}
	gone.Signal(syscall.SIGKILL)
	_ = gone.Wait()
	d.waitMetric(t, "gadgetry_runs_active", func(v float64) bool { return v == 1 })
	last := gadgettest.LatestTime(stays.Matching(isExec), "timestamp")
	stays.WaitFor("an exec after the other client went away", func(e gadgettest.Event) bool {
		return isExec(e) && e.Time("timestamp").After(last)
	}, execOnce)
	stays.Stop()
	d.waitMetric(t, "gadgetry_runs_active", func(v float64) bool { return v == 0 })
	gadgettest.CheckClean(t, "trace_exec", before)
}

// TestDaemonAPIErrors: what a client gets wrong comes back as InvalidArgument, said in words,
// and the gadget's parameters come from the daemon (Describe).
func TestDaemonAPIErrors(t *testing.T) {
	bin := k8sTestBinary(t)
	d := startDaemon(t, bin, "node-a")
	n, err := k8sclient.Dial("node-a", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := n.Info(ctx)
	if err != nil || info.Node != "node-a" || info.ApiVersion != 1 || info.Kubernetes {
		t.Fatalf("Info = %v, %v", info, err)
	}
	desc, err := n.Client().Describe(ctx, &apiv1.DescribeRequest{Image: "block_exec"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range desc.Params {
		keys = append(keys, p.Key)
	}
	if !strings.Contains(strings.Join(keys, ","), "deny-paths") || !desc.SelectsContainers || !desc.BuiltIn {
		t.Errorf("Describe(block_exec) = %v", desc)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "trace_exec", "--daemons", d.addr, "-F", "nosuchfield==1"}, "nosuchfield"},
		{[]string{"run", "trace_exec", "--daemons", d.addr, "-l", "app=web"}, "cannot select pods"},
		{[]string{"run", "./x.bpf.o", "--daemons", d.addr}, "file path"},
		{[]string{"run", "trace_exec", "--daemons", d.addr, "--no-such-flag"}, "no-such-flag"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code == 0 || !strings.Contains(string(out), c.want) {
			t.Errorf("gadgetry %s: exit %d, output %q; want an error saying %q", strings.Join(c.args, " "), code, out, c.want)
		}
	}
}

// TestDaemonGuestTime: the metrics give a WASM gadget's time per event: block_exec (audit
// mode, the host selected) reports an exec of a path it denies, its WASM module handles the
// decision, and the daemon counts the module's records and time.
func TestDaemonGuestTime(t *testing.T) {
	bin := k8sTestBinary(t)
	d := startDaemon(t, bin, "node-a")
	exe := gadgettest.UniqueExecutable(t)
	run := gadgettest.StartCLI(t, nil, bin, "run", "block_exec", "--daemons", d.addr, "-o", "json",
		"--host", "--mode=audit", "--deny-paths="+exe)
	run.WaitFor("an audited exec", func(e gadgettest.Event) bool { return e.Str("action") == "audited" },
		func() { _ = exec.Command(exe).Run() })
	records := d.waitMetric(t, `gadgetry_wasm_guest_records_total{gadget="block_exec"}`, func(v float64) bool { return v >= 1 })
	if secs := d.metric(t, `gadgetry_wasm_guest_seconds_total{gadget="block_exec"}`); secs <= 0 {
		t.Errorf("guest seconds = %v for %v records", secs, records)
	}
	run.Stop()
}

// TestRunHelpNamesK8s: the local run's help says how to run on a cluster and, with a gadget,
// lists the enrichment fields; the cluster run's help lists its selection flags.
func TestRunHelpNamesK8s(t *testing.T) {
	bin := k8sTestBinary(t)
	out, err := exec.Command(bin, "run", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--k8s runs the gadget on\nevery node") || !strings.Contains(string(out), "gadgetry run REF --k8s --help") {
		t.Errorf("run --help (%v) does not say how to run on a cluster:\n%s", err, out)
	}
	// A gadget's help lists the fields -F and --fields take, its containers' among them.
	out, err = exec.Command(bin, "run", "trace_exec", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "and its container's (empty for the host): k8s.node, k8s.namespace, k8s.podName") ||
		!strings.Contains(string(out), "runtime.containerName") {
		t.Errorf("run trace_exec --help (%v) does not list the enrichment fields:\n%s", err, out)
	}
	out, err = exec.Command(bin, "run", "--k8s", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("run --k8s --help: %v\n%s", err, out)
	}
	for _, f := range []string{"--namespace", "--all-namespaces", "--podname", "--selector", "--node", "--kubeconfig"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("run --k8s --help does not list %s:\n%s", f, out)
		}
	}
}
