package blockexec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// The tests run the real gadgetry binary. On the host it runs an image built from this
// directory with `gadgetry image build` into a private store; inside the qemu kernels of `make
// vmtest` (no Go, no clang there) it runs the built-in block_exec of the packed binary, whose
// catalogue scripts/build-gadgets.sh built from the same sources.

func TestMain(m *testing.M) { os.Exit(gadgettest.Main(m)) }

const testImage = "block-exec-test"

var image struct {
	once  sync.Once
	store string
}

// gadgetry returns the binary, the reference of the gadget and the environment to run it with.
func gadgetry(t *testing.T) (bin, ref string, env []string) {
	t.Helper()
	gadgettest.RequireRoot(t)
	kernel.Require(t, kernel.BTF, kernel.RawTracepoint, kernel.RingBuf)
	if kernel.InVM() {
		return vmtest.Gadgetry(t), "block_exec", []string{"GADGETRY_STORE=" + t.TempDir()}
	}
	bin = gadgettest.CLI(t)
	image.once.Do(func() {
		store := filepath.Join(gadgettest.SharedDir(t), "store")
		gadgettest.BuildImage(t, bin, store, ".", testImage)
		image.store = store
	})
	if image.store == "" {
		t.Fatal("the block_exec image could not be built (see the first failing test)")
	}
	return bin, testImage, []string{"GADGETRY_STORE=" + image.store}
}

// mechanism is what the run must choose here: lsm where the BPF LSM is active, kill elsewhere.
func mechanism() string {
	if kernel.Have(kernel.LSM) == nil {
		return "lsm"
	}
	return "kill"
}

// run starts `gadgetry run block_exec -o json args...`.
func run(t *testing.T, args ...string) *gadgettest.CLIRun {
	t.Helper()
	bin, ref, env := gadgetry(t)
	return gadgettest.StartCLI(t, env, bin, append([]string{"run", ref, "-o", "json"}, args...)...)
}

// checkFirstWarning checks that the run's first warning names the mechanism it enforces with
// (mech) and why: as --mechanism asks (forced), the best there is, or lsm missing.
func checkFirstWarning(t *testing.T, r *gadgettest.CLIRun, mech string, forced bool) {
	t.Helper()
	want := "warning: gadget block_exec: mechanism " + mech + ": program block_exec_" + mech + " runs"
	var why string
	switch {
	case forced:
		why = ", as --mechanism=" + mech + " asks"
	case mech == "lsm":
		why = " (the first of lsm, kill this kernel can run)"
	default:
		why = "; lsm is unavailable: program block_exec_lsm (lsm/bprm_check_security) needs BPF LSM"
	}
	for _, l := range strings.Split(r.Stderr(), "\n") {
		if strings.HasPrefix(l, "warning:") {
			if !strings.HasPrefix(l, want+why) {
				t.Errorf("first warning %q, want it to start with %q", l, want+why)
			}
			return
		}
	}
	t.Errorf("no warning names the mechanism; stderr:\n%s", r.Stderr())
}

func randName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// outcome says what became of an exec: "ran" (whatever its exit status), "killed" (SIGKILL) or
// "denied" (the exec failed with EPERM).
func outcome(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "ran"
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return "killed"
		}
		return "ran"
	case errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission):
		return "denied"
	}
	return "error: " + err.Error()
}

// stopped is the outcome of an exec the policy stops: "denied" under lsm, "killed" under kill;
// the mechanism is the one this kernel gets by default, or mech.
func stopped(mech ...string) string {
	if append(mech, mechanism())[0] == "lsm" {
		return "denied"
	}
	return "killed"
}

// action is the event's action for an exec the policy stops (see stopped).
func action(mech ...string) string { return stopped(mech...) }

// container is a runc container whose root filesystem is an overlay: its busybox image in the
// lower layer, with /bin/marker (a hard link to busybox, so its own canonical path) and
// /bin/script.sh (#!/bin/sh); files written through Merged land in the upper layer.
type container struct {
	*runc.Container
	env  *runc.Env
	name string
	ov   vmtest.Overlay
}

func startContainer(t *testing.T, env *runc.Env, name string) *container {
	t.Helper()
	ov := vmtest.MountOverlay(t)
	if err := runc.WriteRootfs(ov.Lower); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(ov.Lower, "bin/busybox"), filepath.Join(ov.Lower, "bin/marker")); err != nil {
		t.Fatal(err)
	}
	gadgettest.WriteFile(t, filepath.Join(ov.Lower, "bin/script.sh"), "#!/bin/sh\nexit 0\n", 0o755)
	c := env.Start(runc.Options{Name: name, Rootfs: ov.Merged})
	return &container{Container: c, env: env, name: name, ov: ov}
}

// execRefused is how nsenter reports an exec the kernel refused with EPERM or EACCES.
var execRefused = regexp.MustCompile(`can't execute '[^']*': (Operation not permitted|Permission denied)`)

// exec runs argv in the container and returns its output and what became of the exec (see
// outcome). It enters the container's namespaces and root with busybox's nsenter (the same
// binary on the host and in the vmtest VM, where it is many times faster than runc exec): the
// exec happens in the container's mount namespace, as runc exec's would. nsenter reports an
// exec that failed by its errno, and dies of the signal that killed its child.
func (c *container) exec(t *testing.T, argv ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(runc.BusyboxPath, append([]string{"nsenter", "-t", strconv.Itoa(c.Pid), "-m", "-p", "-r", "-w"}, argv...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch how := outcome(err); {
	case how == "ran" && err != nil && execRefused.MatchString(out.String()):
		return out.String(), "denied"
	default:
		return out.String(), how
	}
}

// inContainer matches the events of c whose file is path.
func inContainer(c *container, path string) func(gadgettest.Event) bool {
	return func(e gadgettest.Event) bool {
		return e.Num("proc.mntns_id") == c.MntNS && e.Str("file") == path
	}
}

// ready execs /bin/marker in c until its event shows: the policy (which must stop the marker)
// is enforced from then on.
func ready(t *testing.T, r *gadgettest.CLIRun, c *container) gadgettest.Event {
	t.Helper()
	return r.WaitFor("the marker exec in "+c.name, inContainer(c, "/bin/marker"), func() { c.exec(t, "/bin/marker") })
}

// checkEvent compares fields of an event with want (dotted paths; strings).
func checkEvent(t *testing.T, e gadgettest.Event, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := e.Str(k); got != v {
			t.Errorf("%s = %q, want %q (event %s)", k, got, v, e)
		}
	}
}

// objects lists the gadget's BPF programs and maps in the kernel (its programs are named
// block_exec_*, its own maps bexec_*).
func objects(t *testing.T) map[string]bool {
	t.Helper()
	out := gadgettest.Objects(t, "block_exec")
	for o := range gadgettest.Objects(t, "bexec_") {
		out[o] = true
	}
	return out
}

// checkNoObjects waits for the kernel to free what a run loaded and fails if anything of it
// stays (the kernel frees maps after an RCU grace period).
func checkNoObjects(t *testing.T, before map[string]bool) {
	t.Helper()
	gadgettest.CheckClean(t, "block_exec", before)
	gadgettest.CheckClean(t, "bexec_", before)
}
