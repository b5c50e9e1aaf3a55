package runtime_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
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

// TestContainerHooksPassUnknown: a gadget built with GADGET_FILTER_PASS_UNKNOWN_MNTNS, selecting
// by name a container that starts during the run, gets the container's first exec (its init's)
// even when the runtime learns of the container only from that record: here the cache watches
// nothing (containers.Options.NoWatch), so the in-kernel filter map holds the container only
// after a record of its mount namespace reached user space. Without the header's pass the
// kernel would drop every one of them. gadget_mntns_seen_map holds, from the start, the host's
// mount namespace and those of the unselected containers the cache knows; an unselected
// container that starts later joins it after its first record, dropped in user space.
func TestContainerHooksPassUnknown(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	before := gadgettest.Objects(t, prefix)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	name, known, other := "late-"+suffix, "known-"+suffix, "other-"+suffix
	k := env.Start(runc.Options{Name: known})
	cache, err := containers.New(context.Background(), containers.Options{RuncRoots: []string{env.Root}, NoDefaultRoots: true, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()

	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("test_exec", gadgettest.Compile(t, "exec", "-DGADGET_FILTER_PASS_UNKNOWN_MNTNS"), execYAML))
	if err != nil {
		t.Fatal(err)
	}
	type rec struct{ pid, mntns uint64 }
	recs := make(chan rec, 64)
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{
		runtime.ContainerHooks(cache, containers.Selector{Include: []string{name}}),
		{Name: "test", Init: func(r *runtime.Run) error {
			ds := r.DataSource("exec")
			pid, mntns := ds.Field("proc.pid"), ds.Field("proc.mntns_id")
			ds.Subscribe(1000, func(_ *datasource.DataSource, d *datasource.Data) error {
				recs <- rec{pid.Uint(d), mntns.Uint(d)}
				return nil
			})
			return nil
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	seen := run.Map("gadget_mntns_seen_map")
	if seen == nil {
		t.Fatal("the gadget has no gadget_mntns_seen_map")
	}
	var hostNS unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &hostNS); err != nil {
		t.Fatal(err)
	}
	var v uint32
	for what, ns := range map[string]uint64{"the host's mount namespace": hostNS.Ino, "known container " + known: k.MntNS} {
		if err := seen.Lookup(ns, &v); err != nil {
			t.Errorf("%s (%d) is not in gadget_mntns_seen_map at the start: %v", what, ns, err)
		}
	}

	// An unselected container the cache does not know: its init's exec reaches user space,
	// is dropped there, and its namespace goes into the seen map.
	o := env.Start(runc.Options{Name: other})
	for deadline := time.Now().Add(time.Minute); seen.Lookup(o.MntNS, &v) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("container %s's mount namespace %d never went into gadget_mntns_seen_map (hang guard)", other, o.MntNS)
		}
	}

	c := env.Start(runc.Options{Name: name})
	select {
	case r := <-recs:
		if r.mntns != c.MntNS || r.pid != uint64(c.Pid) {
			t.Errorf("record of pid %d in mount namespace %d, want container %s's init: pid %d in %d", r.pid, r.mntns, name, c.Pid, c.MntNS)
		}
	case <-time.After(time.Minute):
		t.Fatalf("container %s's first exec never came (hang guard): the kernel dropped the unknown mount namespace", name)
	case <-run.Done():
		t.Fatalf("the run ended: %v", run.Wait())
	}
	if err := seen.Lookup(c.MntNS, &v); err == nil {
		t.Errorf("the selected container %s's mount namespace is in gadget_mntns_seen_map", name)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	close(recs)
	for r := range recs {
		if r.mntns != c.MntNS {
			t.Errorf("a record of mount namespace %d passed the selection of %s (mntns %d)", r.mntns, name, c.MntNS)
		}
	}
	gadgettest.CheckClean(t, prefix, before)
}
