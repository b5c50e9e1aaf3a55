package syscall_filter

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/examples/internal/harness"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/syscalls"
)

// TestKernelFilter lets the WASM module fill the kernel filter with getppid only, then checks
// that the events of this process are getppid calls and nothing else.
func TestKernelFilter(t *testing.T) {
	want, ok := syscalls.Number("getppid")
	if !ok {
		t.Fatal("getppid unknown")
	}
	var mu sync.Mutex
	counts := map[uint64]int{}
	got := make(chan struct{}, 1) // signalled at the third getppid
	s := harness.Start(t, ".", harness.Tracer{DataSource: "syscalls", Map: "events", Struct: "event"},
		map[string]string{"syscalls": "getppid"},
		func(ds *datasource.DataSource) {
			pid, nr := ds.Field("proc.pid"), ds.Field("syscall")
			ds.Subscribe(100, func(ds *datasource.DataSource, d *datasource.Data) error {
				if int(pid.Uint(d)) != os.Getpid() {
					return nil
				}
				mu.Lock()
				counts[nr.Uint(d)]++
				third := counts[uint64(want)] == 3
				mu.Unlock()
				if third {
					got <- struct{}{}
				}
				return nil
			})
		})
	for range 3 {
		syscall.Getppid()
		syscall.Getpid() // not listed: filtered in the kernel
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatalf("fewer than 3 getppid events within 30s: %v", counts)
	}
	s.Stop()
	mu.Lock()
	defer mu.Unlock()
	if counts[uint64(want)] < 3 {
		t.Errorf("getppid events = %d, want >= 3 (all: %v)", counts[uint64(want)], counts)
	}
	for nr, n := range counts {
		if nr != uint64(want) {
			name, _ := syscalls.Name(int(nr))
			t.Errorf("%d events of %s (%d) passed the kernel filter", n, name, nr)
		}
	}
}

// TestEmptyListFailsStart checks the module's error reaches the user with the hook named.
func TestEmptyListFailsStart(t *testing.T) {
	_, err := harness.Try(t, ".", harness.Tracer{DataSource: "syscalls", Map: "events", Struct: "event"},
		map[string]string{"syscalls": " "}, nil)
	want := "gadget syscall_filter: wasm gadgetStart returned 1: start: --syscalls is empty: name at least one syscall"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
