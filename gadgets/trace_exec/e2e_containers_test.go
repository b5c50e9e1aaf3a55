package traceexec_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// The container tests use real runc containers in the test helper's own state root, which
// gadgetry run learns names from through --runc-root.
func containerEnv(t *testing.T) *runc.Env {
	t.Helper()
	gadgettest.RequireRoot(t)
	return runc.NewEnv(t)
}

// execIn runs argv in the running container c with runc exec; the exec happens in c's mount
// namespace.
func execIn(t *testing.T, env *runc.Env, c *runc.Container, argv ...string) {
	t.Helper()
	out, err := exec.Command("runc", append([]string{"--root", env.Root, "exec", c.ID}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("runc exec %s %v: %v: %s", c.ID, argv, err, out)
	}
}

// inContainer matches the exec of /bin/true tag in c.
func inContainer(c *runc.Container, tag string) func(ev) bool {
	return func(e ev) bool {
		return e.Num("proc.mntns_id") == c.MntNS && slices.Equal(e.List("args"), []string{"/bin/true", tag})
	}
}

func checkAttributed(t *testing.T, e ev, c *runc.Container, name string) {
	t.Helper()
	if e.Str("runtime.containerName") != name || e.Str("runtime.containerId") != c.ID {
		t.Errorf("event of container %s: runtime.containerName %q runtime.containerId %q, want %q %s (event %s)",
			name, e.Str("runtime.containerName"), e.Str("runtime.containerId"), name, c.ID, e)
	}
}

// TestE2EContainers: every event carries its container (host events empty fields): containers
// started before and after the run, and one that starts, execs and stops within a second.
func TestE2EContainers(t *testing.T) {
	env := containerEnv(t)
	beforeName, afterName, shortName := randName("before-"), randName("after-"), randName("short-")
	before := env.Start(runc.Options{Name: beforeName})
	r := startRunUnsynced(t, "--runc-root", env.Root)
	ready := randName("ready-")
	r.WaitFor("the first exec in "+beforeName, inContainer(before, ready), func() { execIn(t, env, before, "/bin/true", ready) })

	after := env.Start(runc.Options{Name: afterName})
	for _, c := range []struct {
		c    *runc.Container
		name string
	}{{before, beforeName}, {after, afterName}} {
		tag := randName("tag-")
		execIn(t, env, c.c, "/bin/true", tag)
		checkAttributed(t, r.WaitFor("the exec in "+c.name, inContainer(c.c, tag), nil), c.c, c.name)
	}

	// A container that lives for a fraction of a second: its event is matched by argv since
	// its mount namespace may be gone before the test can read it.
	tag := randName("short-")
	short := env.Start(runc.Options{Name: shortName, Args: []string{"/bin/sh", "-c", "/bin/true " + tag + "; sleep 0.3"}})
	if err := short.WaitStopped(time.Minute); err != nil {
		t.Fatal(err)
	}
	e := r.WaitFor("the exec of the short-lived container", func(e ev) bool {
		return slices.Equal(e.List("args"), []string{"/bin/true", tag})
	}, nil)
	checkAttributed(t, e, short, shortName)

	// The host's execs are traced too, with empty container fields.
	hostTag := randName("host-")
	if err := exec.Command("/bin/true", hostTag).Run(); err != nil {
		t.Fatal(err)
	}
	h := r.WaitFor("the host exec", func(e ev) bool { return slices.Equal(e.List("args"), []string{"/bin/true", hostTag}) }, nil)
	if h.Str("runtime.containerId") != "" || h.Str("runtime.containerName") != "" {
		t.Errorf("host exec with container fields: %s", h)
	}
	r.Stop()
}

// TestE2EContainerSelection: with -c NAME, the other container's execs never reach user space.
func TestE2EContainerSelection(t *testing.T) {
	env := containerEnv(t)
	selName, otherName := randName("sel-"), randName("other-")
	sel := env.Start(runc.Options{Name: selName})
	other := env.Start(runc.Options{Name: otherName})
	r := startRunUnsynced(t, "-c", selName, "--runc-root", env.Root)

	// Ready when an exec in the selected container shows (the host's execs are filtered out).
	ready := randName("ready-")
	r.WaitFor("the first exec in "+selName, inContainer(sel, ready), func() { execIn(t, env, sel, "/bin/true", ready) })

	// The other container execs first, then the selected one: one ring buffer, so had the
	// other's event passed the kernel filter it would be read before the selected one's.
	otherTag, selTag := randName("other-"), randName("sel-")
	for range 3 {
		execIn(t, env, other, "/bin/true", otherTag)
	}
	execIn(t, env, sel, "/bin/true", selTag)
	checkAttributed(t, r.WaitFor("the exec in "+selName, inContainer(sel, selTag), nil), sel, selName)

	sum := r.Stop()
	evs := r.Matching(func(ev) bool { return true })
	for _, e := range evs {
		if e.Str("runtime.containerName") != selName {
			t.Errorf("event of another container or the host with -c %s: %s", selName, e)
		}
	}
	var counts struct {
		Exec struct{ Events, Lost, Dropped uint64 }
	}
	b, _ := json.Marshal(sum["dataSources"])
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatalf("summary %v: %v", sum, err)
	}
	// Every record that reached user space was printed: nothing was dropped there, so the
	// other container's execs were stopped in the kernel.
	if counts.Exec.Events != uint64(len(evs)) || counts.Exec.Dropped != 0 {
		t.Errorf("summary: %d events, %d dropped; %d printed: records were filtered in user space, not in the kernel", counts.Exec.Events, counts.Exec.Dropped, len(evs))
	}
}
