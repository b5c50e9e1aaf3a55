package wasm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// TestCompilationCache compiles the same module in two engines sharing a cache directory,
// as two runs of the same image would, and reports both compile times.
func TestCompilationCache(t *testing.T) {
	mod := guest(t, "full")
	dir := t.TempDir()
	compile := func() time.Duration {
		e, err := NewEngine(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		start := time.Now()
		if _, err := e.Compile(context.Background(), mod, "sha256:test"); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		// Within one engine the digest is remembered.
		c1, _ := e.Compile(context.Background(), mod, "sha256:test")
		c2, _ := e.Compile(context.Background(), mod, "sha256:test")
		if c1 != c2 {
			t.Fatal("same digest compiled twice in one engine")
		}
		return took
	}
	first := compile()
	var files int
	filepath.Walk(dir, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Fatal("nothing written to the cache directory")
	}
	second := compile()
	t.Logf("compile %d-byte module: first %v, second (disk cache) %v, ratio %.1fx", len(mod), first, second, float64(first)/float64(second))
}

func TestDefaultCacheDir(t *testing.T) {
	d := DefaultCacheDir()
	if os.Geteuid() == 0 && d != "/var/cache/gadgetry/wasm" {
		t.Fatal(d)
	}
	if !filepath.IsAbs(d) {
		t.Fatal(d)
	}
}

// BenchmarkCallback measures one event through a guest callback that reads two fields (a
// u32 and a 16-byte string) and sets one (a u64).
func BenchmarkCallback(b *testing.B) {
	mod := guest(b, "full")
	e, err := NewEngine("")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	run := newFakeRun(b, map[string]string{"drop": "-", "keys": "1", "long": ""})
	inst, err := e.Instantiate(context.Background(), "bench", mod, "", run.env())
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Init(); err != nil {
		b.Fatal(err)
	}
	d := run.events.NewData()
	run.pid.SetUint(d, 1234)
	run.comm.SetString(d, "bash")
	pid2 := run.events.Field("pid2")
	var ds *datasource.DataSource = run.events
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ds.Emit(d); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if pid2.Uint(d) != 2468 {
		b.Fatal(pid2.Uint(d))
	}
}
