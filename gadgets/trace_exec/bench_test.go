package traceexec_test

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// execLoop runs b.N short-lived execs of /bin/true from one shell.
func execLoop(b *testing.B) {
	script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", b.N)
	b.ResetTimer()
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		b.Fatalf("exec loop: %v\n%s", err, out)
	}
}

// BenchmarkExecLoop: the cost of tracing on exec-heavy work. Compare with
// go test -run '^$' -bench ExecLoop -benchtime 2000x -count 5 (and benchstat).
func BenchmarkExecLoop(b *testing.B) {
	b.Run("untraced", execLoop)
	b.Run("traced", func(b *testing.B) {
		startTracer(b, tracerOptions{ignoreFailed: true})
		execLoop(b)
	})
	b.Run("traced-with-failed", func(b *testing.B) {
		startTracer(b, tracerOptions{ignoreFailed: false})
		execLoop(b)
	})
}

// BenchmarkProgramRunTime reports the kernel's own accounting of trace_exec's run time per exec
// (BPF_ENABLE_STATS while the benchmark runs): a figure the shared machine's noise does not blur.
func BenchmarkProgramRunTime(b *testing.B) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	tr := startTracer(b, tracerOptions{ignoreFailed: true})
	execLoop(b)
	b.StopTimer()
	st, err := tr.coll.Programs["trace_exec"].Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.RunCount == 0 {
		b.Fatal("trace_exec never ran")
	}
	b.ReportMetric(float64(st.Runtime.Nanoseconds())/float64(st.RunCount), "bpf-ns/exec")
}

// BenchmarkGetppid: the cost of tracing on a non-exec syscall. By default (sched_process_exec
// only) it must be nil; with failed-exec reporting the syscall tracepoints are on.
func BenchmarkGetppid(b *testing.B) {
	loop := func(b *testing.B) {
		for range b.N {
			unix.Getppid()
		}
	}
	b.Run("untraced", loop)
	b.Run("traced", func(b *testing.B) {
		startTracer(b, tracerOptions{ignoreFailed: true})
		loop(b)
	})
	b.Run("traced-with-failed", func(b *testing.B) {
		startTracer(b, tracerOptions{ignoreFailed: false})
		loop(b)
	})
}
