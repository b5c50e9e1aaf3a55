// Package skeleton tests that `gadgetry gadget init` writes a gadget that builds and runs
// unchanged.
package skeleton

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/examples/internal/harness"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

func TestMain(m *testing.M) { os.Exit(gadgettest.Main(m)) }

// TestInitRunsUnchanged builds the CLI, runs `gadget init`, then builds and runs the skeleton
// and checks the field its WASM module adds on an exec of this test's child.
func TestInitRunsUnchanged(t *testing.T) {
	gadgettest.RequireRoot(t)
	tmp := t.TempDir()
	cli := gadgettest.CLI(t)
	dir := filepath.Join(tmp, "sk_gadget")
	initCmd := exec.Command(cli, "gadget", "init", dir)
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("gadget init: %v\n%s", err, out)
	}
	if out, err := exec.Command(cli, "gadget", "init", dir).CombinedOutput(); err == nil {
		t.Fatalf("init over an existing gadget succeeded:\n%s", out)
	}

	child := filepath.Join(tmp, "sk_child")
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(child, b, 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	s := harness.Start(t, dir, harness.Tracer{DataSource: "sk_gadget", Map: "events", Struct: "event"},
		map[string]string{"greeting": "hi there"},
		func(ds *datasource.DataSource) {
			ppid, greeting := ds.Field("proc.parent.pid"), ds.Field("greeting")
			ds.Subscribe(100, func(ds *datasource.DataSource, d *datasource.Data) error {
				if int(ppid.Uint(d)) == os.Getpid() {
					got <- greeting.String(d)
				}
				return nil
			})
		})
	defer s.Stop()
	if err := exec.Command(child).Run(); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != "hi there" {
			t.Fatalf("greeting = %q", g)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event of the child within 30s")
	}
}
