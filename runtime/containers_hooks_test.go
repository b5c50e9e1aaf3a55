package runtime_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// TestContainerHooks: with no selection, host events pass and carry (empty) container fields;
// selecting a container that does not exist turns the in-kernel filter on, before attach, so
// not one host exec gets through (Stop drains everything emitted before detaching).
func TestContainerHooks(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	cache, err := containers.New(context.Background(), containers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	bin := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)

	var c capture
	_, run := startExec(t, execYAML, runtime.RunOptions{
		Params: map[string]string{"comm": comm},
		Hooks: []runtime.Hooks{runtime.ContainerHooks(cache, containers.Selector{}),
			c.hooks(t, output.JSON, "proc.comm,"+containers.FieldContainerName, "")},
	})
	out := c.wait(t, run, 1, func() { runBin(t, bin) })
	run.Stop()
	if !strings.Contains(out, `"runtime":{"containerName":""}`) {
		t.Errorf("host event without an empty container name: %s", out)
	}

	sel, err := containers.ParseSelector("no-such-container")
	if err != nil {
		t.Fatal(err)
	}
	var c2 capture
	_, run = startExec(t, execYAML, runtime.RunOptions{
		Params: map[string]string{"comm": comm},
		Hooks:  []runtime.Hooks{runtime.ContainerHooks(cache, sel), c2.hooks(t, output.JSON, "proc.comm", "")},
	})
	for i := 0; i < 5; i++ {
		runBin(t, bin)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := run.Summary().DataSources["exec"].Events; n != 0 {
		t.Errorf("%d host events passed the in-kernel container filter: %s", n, c2.buf.String())
	}
	gadgettest.CheckClean(t, prefix, before)
}
