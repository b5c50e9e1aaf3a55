package exec_annotate

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/examples/internal/harness"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// TestLineageAndIgnore execs two children of the test process: one whose command is ignored
// (its event must be dropped by the WASM module) and one that must arrive with the lineage
// field the module computes.
func TestLineageAndIgnore(t *testing.T) {
	dir := t.TempDir()
	keep, drop := filepath.Join(dir, "ea_keep"), filepath.Join(dir, "ea_drop")
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{keep, drop} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	seen := map[string]string{} // comm -> lineage, for children of this test only
	got := make(chan struct{}, 8)
	s := harness.Start(t, ".", harness.Tracer{DataSource: "exec", Map: "events", Struct: "event"},
		map[string]string{"ignore-comm": "ea_drop, other"},
		func(ds *datasource.DataSource) {
			ppid, comm, lineage := ds.Field("proc.parent.pid"), ds.Field("proc.comm"), ds.Field("lineage")
			ds.Subscribe(100, func(ds *datasource.DataSource, d *datasource.Data) error {
				if int(ppid.Uint(d)) != os.Getpid() {
					return nil
				}
				mu.Lock()
				seen[comm.String(d)] = lineage.String(d)
				mu.Unlock()
				got <- struct{}{}
				return nil
			})
		})
	// The ignored command first: once the kept one's event arrives, the other has been
	// decided too (events of one CPU arrive in order; wait for both to have run anyway).
	for _, p := range []string{drop, keep} {
		if err := exec.Command(p).Run(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no exec event of this test's children within 30s")
	}
	s.Stop()
	mu.Lock()
	defer mu.Unlock()
	self, _ := os.ReadFile("/proc/self/comm")
	want := string(self[:len(self)-1]) + " > ea_keep"
	if seen["ea_keep"] != want {
		t.Errorf("lineage of ea_keep = %q, want %q (seen %v)", seen["ea_keep"], want, seen)
	}
	if _, ok := seen["ea_drop"]; ok {
		t.Errorf("ea_drop was not dropped: %v", seen)
	}
	if st := s.Inst.Stats(); st.Dropped < 1 {
		t.Errorf("stats %+v: the dropped event is not counted", st)
	}
}
