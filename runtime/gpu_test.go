package runtime_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestCUDAGadgetWithoutGPU runs testdata/gpucuda.bpf.c, a gadget whose uprobes are all on
// NVIDIA's libraries (libcuda, libcudart), beside a clean-up tracepoint. Where no NVIDIA GPU
// shows (NVIDIAPaths point at nothing) the run fails with one sentence naming the libraries
// and what to do, and leaves no BPF object behind. Where one shows, the run goes on without
// those uprobes, warning once per library: the two programs on libcuda in one line.
func TestCUDAGadgetWithoutGPU(t *testing.T) {
	gadgettest.RequireRoot(t)
	for _, dir := range []string{"/usr/lib", "/lib", "/usr/local"} {
		if m, _ := filepath.Glob(filepath.Join(dir, "*", "libcuda.so*")); len(m) > 0 {
			t.Skipf("CUDA is installed here (%s): the test needs a machine without it", m[0])
		}
	}
	obj := gadgettest.Compile(t, "gpucuda")
	dir := t.TempDir()
	gpu := filepath.Join(dir, "nvidiactl")
	gadgettest.WriteFile(t, gpu, "", 0o644)

	t.Run("no GPU", func(t *testing.T) {
		before := gadgettest.Objects(t, prefix)
		var log lockedBuffer
		rt := runtime.New(runtime.Options{
			Logger:      slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})),
			NVIDIAPaths: []string{filepath.Join(dir, "absent")},
		})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("cudaprof", obj, ""))
		if err != nil {
			t.Fatal(err)
		}
		run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
		if err == nil {
			run.Stop()
		}
		wantErr(t, err, "gadget cudaprof needs an NVIDIA GPU with CUDA: its uprobes are on libcuda and libcudart, which are not installed here, and this machine has no NVIDIA GPU (none of "+filepath.Join(dir, "absent")+" exists): run it on a machine with one")
		if strings.Contains(log.String(), "not attached") {
			t.Errorf("warnings beside the error:\n%s", log.String())
		}
		gadgettest.CheckClean(t, prefix, before)
	})

	t.Run("GPU", func(t *testing.T) {
		var log lockedBuffer
		rt := runtime.New(runtime.Options{
			Logger:      slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})),
			NVIDIAPaths: []string{gpu},
		})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("cudaprof", obj, ""))
		if err != nil {
			t.Fatal(err)
		}
		run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Stop(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			if strings.Contains(l, "not attached") {
				lines = append(lines, l)
			}
		}
		want := []string{
			"gadget cudaprof: 2 programs not attached: library libcuda is not on this system's library path (their symbols: cuMemAlloc_v2)",
			"gadget cudaprof: program gtest_cudart_malloc (uprobe/libcudart:cudaMalloc) not attached: library libcudart (for symbol cudaMalloc) is not on this system's library path",
		}
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
				t.Errorf("no warning %q", w)
			}
		}
		if len(lines) != len(want) {
			t.Errorf("want one warning per library, got:\n%s", strings.Join(lines, "\n"))
		}
	})
}

// TestGPUBridgeWarning runs testdata/gpubridge.bpf.c, which reads the GPU bridge's maps
// (pinned by name, under runtime.PinRoot). With no bridge daemon the run warns once that they
// stay empty, naming them; once the bridge's state map has a current update time (as the
// daemon writes it), it does not.
func TestGPUBridgeWarning(t *testing.T) {
	gadgettest.RequireRoot(t)
	pins := []string{filepath.Join(runtime.PinRoot, "gpu_meta"), filepath.Join(runtime.PinRoot, "gpu_per_pid")}
	for _, p := range pins {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s is already pinned (a GPU bridge, or another run): the test needs it absent", p)
		}
	}
	t.Cleanup(func() {
		for _, p := range pins {
			os.Remove(p)
		}
	})
	obj := gadgettest.Compile(t, "gpubridge")
	run := func() string {
		var log lockedBuffer
		rt := runtime.New(runtime.Options{
			Logger:      slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})),
			NVIDIAPaths: []string{filepath.Join(t.TempDir(), "absent")},
		})
		g, err := rt.Prepare(context.Background(), gadgettest.Image("gpubridge", obj, ""))
		if err != nil {
			t.Fatal(err)
		}
		r, err := rt.Start(context.Background(), g, runtime.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
		return log.String()
	}
	want := "gadget gpubridge: the GPU bridge's maps it reads (gpu_meta, gpu_per_pid) stay empty: no gpu-ebpf-bridge daemon fills them, and this machine has no NVIDIA GPU"
	if got := run(); strings.Count(got, "GPU bridge") != 1 || !strings.Contains(got, want) {
		t.Errorf("without a bridge: want one warning %q, got:\n%s", want, got)
	}

	// The bridge's state, as the daemon writes it: schema 1, the update's boot time, its pid.
	m, err := ebpf.LoadPinnedMap(pins[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v := make([]byte, m.ValueSize())
	binary.NativeEndian.PutUint32(v[0:], 1)
	binary.NativeEndian.PutUint32(v[16:], uint32(os.Getpid()))
	update := func() {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &now); err != nil {
			t.Error(err)
			return
		}
		binary.NativeEndian.PutUint64(v[8:], uint64(now.Nano()))
		if err := m.Put(uint32(0), v); err != nil {
			t.Error(err)
		}
	}
	// A bridge updates its state every poll: so does this one, while the run starts.
	update()
	done, exited := make(chan struct{}), make(chan struct{})
	defer func() { close(done); <-exited }()
	go func() {
		defer close(exited)
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				update()
			}
		}
	}()
	if got := run(); strings.Contains(got, "GPU bridge") {
		t.Errorf("with a bridge: %s", got)
	}
}
