package traceexec_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/vmtest"
	"golang.org/x/sys/unix"
)

// eventsOf returns the events of process pid, in order.
func eventsOf(evs []event, pid int) []event {
	var out []event
	for _, e := range evs {
		if e.Pid == uint32(pid) {
			out = append(out, e)
		}
	}
	return out
}

// execOf returns the one event of pid whose exepath is exe.
func execOf(t *testing.T, evs []event, pid int, exe string) event {
	t.Helper()
	var found []event
	for _, e := range eventsOf(evs, pid) {
		if e.Exepath == exe {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 exec of %s by pid %d, got %d; events of that pid: %+v", exe, pid, len(found), eventsOf(evs, pid))
	}
	return found[0]
}

func run(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running %v: %v\n%s", cmd.Args, err, out)
	}
	return cmd.Process.Pid
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b), 0o755)
}

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func selfMntns(t *testing.T) uint64 {
	t.Helper()
	link, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]"), 10, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", link, err)
	}
	return n
}

// TestExecForms runs every exec form once and checks what the event says about it.
func TestExecForms(t *testing.T) {
	tr := startTracer(t, tracerOptions{ignoreFailed: true})
	dir := realPath(t, t.TempDir())
	trueBin := realPath(t, "/bin/true")
	shBin := realPath(t, "/bin/sh")

	t.Run("relative path through a symlinked directory", func(t *testing.T) {
		cmd := exec.Command("./ls", "-d", "/")
		cmd.Dir = "/bin"
		pid := run(t, cmd)
		e := execOf(t, tr.snapshot(), pid, realPath(t, "/bin/ls"))
		want := event{File: "./ls", Cwd: realPath(t, "/bin"), Comm: "ls", Args: []string{"./ls", "-d", "/"}}
		if e.File != want.File || e.Cwd != want.Cwd || e.Comm != want.Comm || !slices.Equal(e.Args, want.Args) {
			t.Errorf("got file %q cwd %q comm %q args %q, want %q %q %q %q", e.File, e.Cwd, e.Comm, e.Args, want.File, want.Cwd, want.Comm, want.Args)
		}
		if e.ArgsCount != 3 || e.ArgsTruncated || e.ExeTrunc || e.CwdTrunc || e.Fileless || e.Error != 0 || e.Interp != "" {
			t.Errorf("unexpected flags: %+v", e)
		}
		if e.Tid != e.Pid || e.ParentPid != uint32(os.Getpid()) || e.UID != 0 || e.GID != 0 {
			t.Errorf("process fields: pid %d tid %d ppid %d (want %d) uid %d gid %d", e.Pid, e.Tid, e.ParentPid, os.Getpid(), e.UID, e.GID)
		}
		if e.MntnsID != selfMntns(t) || e.CgroupID == 0 || e.Timestamp == 0 {
			t.Errorf("mntns %d (want %d), cgroup %d, timestamp %d", e.MntnsID, selfMntns(t), e.CgroupID, e.Timestamp)
		}
		if e.Upper != "no" || e.FUpper != "no" || e.PUpper != "no" {
			t.Errorf("upper layer states %s/%s/%s, want no/no/no", e.Upper, e.FUpper, e.PUpper)
		}
	})

	t.Run("symlink chain", func(t *testing.T) {
		b := filepath.Join(dir, "b")
		a := filepath.Join(dir, "a")
		if err := os.Symlink("/bin/true", b); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(b, a); err != nil {
			t.Fatal(err)
		}
		pid := run(t, exec.Command(a))
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if e.File != a || !slices.Equal(e.Args, []string{a}) {
			t.Errorf("file %q args %q, want %q", e.File, e.Args, a)
		}
	})

	t.Run("script", func(t *testing.T) {
		script := filepath.Join(dir, "s.sh")
		writeFile(t, script, "#!/bin/sh\nexit 0\n", 0o755)
		pid := run(t, exec.Command(script, "one"))
		e := execOf(t, tr.snapshot(), pid, shBin)
		if e.File != script || e.Interp != "/bin/sh" {
			t.Errorf("file %q interp %q, want %q /bin/sh", e.File, e.Interp, script)
		}
		if !slices.Equal(e.Args, []string{"/bin/sh", script, "one"}) || e.ArgsCount != 3 {
			t.Errorf("args %q count %d", e.Args, e.ArgsCount)
		}
		if e.Upper != "no" || e.FUpper != "unknown" {
			t.Errorf("upper %s fupper %s, want no/unknown (no security_bprm_check hook in this test)", e.Upper, e.FUpper)
		}
	})

	t.Run("env chain", func(t *testing.T) {
		script := filepath.Join(dir, "e.sh")
		writeFile(t, script, "#!/usr/bin/env sh\nexit 0\n", 0o755)
		pid := run(t, exec.Command(script))
		evs := tr.snapshot()
		e := execOf(t, evs, pid, realPath(t, "/usr/bin/env"))
		if e.File != script || e.Interp != "/usr/bin/env" {
			t.Errorf("file %q interp %q", e.File, e.Interp)
		}
		sh := execOf(t, evs, pid, shBin)
		if !strings.HasSuffix(sh.File, "/sh") || sh.Interp != "" || sh.Timestamp < e.Timestamp {
			t.Errorf("second exec: file %q interp %q", sh.File, sh.Interp)
		}
	})

	t.Run("execveat with a directory fd", func(t *testing.T) {
		pid := run(t, helperCommand(t, "execveat-dirfd", ""))
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if !strings.HasPrefix(e.File, "/dev/fd/") || !strings.HasSuffix(e.File, "/true") {
			t.Errorf("file %q, want /dev/fd/N/true", e.File)
		}
		if !slices.Equal(e.Args, []string{"true", "execveat-dirfd"}) || e.Fileless {
			t.Errorf("args %q fileless %v", e.Args, e.Fileless)
		}
	})

	t.Run("fexecve", func(t *testing.T) {
		pid := run(t, helperCommand(t, "fexecve", ""))
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if !strings.HasPrefix(e.File, "/dev/fd/") || e.Fileless {
			t.Errorf("file %q fileless %v", e.File, e.Fileless)
		}
	})

	t.Run("memfd", func(t *testing.T) {
		pid := run(t, helperCommand(t, "memfd", ""))
		e := execOf(t, tr.snapshot(), pid, "/memfd:gadgetry-test")
		if !e.Fileless || e.Upper != "no" {
			t.Errorf("fileless %v upper %s, want true/no", e.Fileless, e.Upper)
		}
	})

	t.Run("deleted file", func(t *testing.T) {
		victim := filepath.Join(dir, "deleted-true")
		copyFile(t, trueBin, victim)
		pid := run(t, helperCommand(t, "deleted", victim))
		e := execOf(t, tr.snapshot(), pid, victim)
		if !e.Fileless {
			t.Errorf("fileless false for a deleted file")
		}
	})

	t.Run("non-leader thread", func(t *testing.T) {
		tidFile := filepath.Join(dir, "tid")
		pid := run(t, helperCommand(t, "thread", tidFile))
		b, err := os.ReadFile(tidFile)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == strconv.Itoa(pid) {
			t.Fatalf("helper exec'd from the leader thread")
		}
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if e.Tid != uint32(pid) || !slices.Equal(e.Args, []string{"true", "thread"}) {
			t.Errorf("tid %d (want %d, the pid), args %q", e.Tid, pid, e.Args)
		}
	})

	t.Run("paths relative to a chroot", func(t *testing.T) {
		busybox, err := exec.LookPath("busybox")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("busybox-static is required (CI=true): %v", err)
			}
			t.Skipf("busybox not installed: %v", err)
		}
		root := filepath.Join(dir, "chroot")
		if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, busybox, filepath.Join(root, "bin", "busybox"))
		cmd := exec.Command("/bin/busybox", "true", "in-chroot")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/bin"
		pid := run(t, cmd)
		e := execOf(t, tr.snapshot(), pid, "/bin/busybox")
		if e.Cwd != "/bin" || e.File != "/bin/busybox" {
			t.Errorf("cwd %q file %q, want /bin and /bin/busybox (the chroot's view)", e.Cwd, e.File)
		}
	})

	t.Run("deep path is cut and says so", func(t *testing.T) {
		deep := dir
		for range 70 {
			deep = filepath.Join(deep, "d")
		}
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(deep, "true")
		copyFile(t, trueBin, bin)
		cmd := exec.Command(bin)
		cmd.Dir = deep
		pid := run(t, cmd)
		var e *event
		for _, ev := range eventsOf(tr.snapshot(), pid) {
			if ev.File == bin {
				e = &ev
			}
		}
		if e == nil {
			t.Fatalf("no exec event of %s", bin)
		}
		if !e.ExeTrunc || !e.CwdTrunc || !strings.HasSuffix(e.Exepath, "/d/d/true") || !strings.HasSuffix(bin, e.Exepath) {
			t.Errorf("exepath %q truncated %v, cwd truncated %v: want a cut tail of %s", e.Exepath, e.ExeTrunc, e.CwdTrunc, bin)
		}
	})

	t.Run("long argv is truncated and says so", func(t *testing.T) {
		args := make([]string, 300)
		for i := range args {
			args[i] = fmt.Sprintf("argument-%010d", i)
		}
		pid := run(t, exec.Command("/bin/true", args...))
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if !e.ArgsTruncated || e.ArgsCount != 301 || e.ArgsSize != 2048 || e.Args[1] != args[0] {
			t.Errorf("truncated %v count %d size %d first %q", e.ArgsTruncated, e.ArgsCount, e.ArgsSize, e.Args[1])
		}
	})

	t.Run("empty arguments, trailing ones too", func(t *testing.T) {
		pid := run(t, exec.Command("/bin/true", "", "a", "", ""))
		e := execOf(t, tr.snapshot(), pid, trueBin)
		if want := []string{"/bin/true", "", "a", "", ""}; !slices.Equal(e.Args, want) || e.ArgsCount != 5 || e.ArgsTruncated {
			t.Errorf("args %q count %d truncated %v, want %q 5 false", e.Args, e.ArgsCount, e.ArgsTruncated, want)
		}
	})

	t.Run("failed execs are not reported by default", func(t *testing.T) {
		missing := filepath.Join(dir, "missing")
		if err := exec.Command(missing).Run(); err == nil {
			t.Fatal("exec of a missing file succeeded")
		}
		for _, e := range tr.snapshot() {
			if e.File == missing {
				t.Errorf("failed exec reported with ignore_failed=true: %+v", e)
			}
		}
	})

	if lost := tr.lost(t); lost != 0 {
		t.Errorf("%d events lost", lost)
	}
}

// TestVMFailedExecs checks the syscall-tracepoint programs: each failure carries its errno.
// It runs in the vmtest kernels too.
func TestVMFailedExecs(t *testing.T) {
	tr := startTracer(t, tracerOptions{ignoreFailed: false})
	dir := realPath(t, t.TempDir())
	noexec := filepath.Join(dir, "noexec")
	writeFile(t, noexec, "#!/bin/sh\n", 0o644)
	garbage := filepath.Join(dir, "garbage")
	writeFile(t, garbage, "\x01\x02\x03 not a program\n", 0o755)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cwd := realPath(t, wd)

	for _, c := range []struct {
		path  string
		errno unix.Errno
	}{
		{filepath.Join(dir, "missing"), unix.ENOENT},
		{noexec, unix.EACCES},
		{garbage, unix.ENOEXEC},
	} {
		t.Run(c.errno.Error(), func(t *testing.T) {
			if err := exec.Command(c.path, "x").Run(); err == nil {
				t.Fatalf("exec of %s succeeded", c.path)
			}
			var found []event
			for _, e := range tr.snapshot() {
				if e.File == c.path {
					found = append(found, e)
				}
			}
			if len(found) != 1 {
				t.Fatalf("want 1 event for %s, got %+v", c.path, found)
			}
			e := found[0]
			if unix.Errno(e.Error) != c.errno || !slices.Equal(e.Args, []string{c.path, "x"}) || e.ArgsCount != 2 {
				t.Errorf("error %d (want %d) args %q count %d", e.Error, c.errno, e.Args, e.ArgsCount)
			}
			if e.Exepath != "" || e.Cwd != cwd || e.Upper != "unknown" || e.ParentPid != uint32(os.Getpid()) {
				t.Errorf("exepath %q cwd %q (want %q) upper %s ppid %d", e.Exepath, e.Cwd, cwd, e.Upper, e.ParentPid)
			}
		})
	}

	// A failed exec's argv is read from user memory, 128 entries at most: exactly 128 is
	// whole, 129 is cut, and empty arguments stay, trailing ones too.
	for _, c := range []struct {
		argc int
		cut  bool
	}{{127, false}, {128, false}, {129, true}} {
		t.Run(fmt.Sprintf("argv of %d entries", c.argc), func(t *testing.T) {
			missing := filepath.Join(dir, fmt.Sprintf("missing-%d", c.argc))
			args := make([]string, c.argc-1)
			for i := range args {
				args[i] = fmt.Sprint(i)
			}
			// Empty ones in the middle and at the end: on some kernels reading an empty
			// string returned 0 bytes, which once stopped the copy there.
			args[1], args[len(args)-1] = "", ""
			if err := exec.Command(missing, args...).Run(); err == nil {
				t.Fatalf("exec of %s succeeded", missing)
			}
			var found []event
			for _, e := range tr.snapshot() {
				if e.File == missing {
					found = append(found, e)
				}
			}
			if len(found) != 1 {
				t.Fatalf("want 1 event for %s, got %d", missing, len(found))
			}
			e := found[0]
			want := min(c.argc, 128)
			if e.ArgsTruncated != c.cut || int(e.ArgsCount) != want || len(e.Args) != want {
				t.Errorf("truncated %v count %d args %d, want %v %d %d", e.ArgsTruncated, e.ArgsCount, len(e.Args), c.cut, want, want)
			}
			if len(e.Args) == want && (e.Args[2] != "" || e.Args[3] != "2" || !c.cut && e.Args[want-1] != "") {
				t.Errorf("empty arguments lost: %q ... %q", e.Args[:4], e.Args[want-3:])
			}
		})
	}

	t.Run("a successful exec is reported once", func(t *testing.T) {
		pid := run(t, exec.Command("/bin/true", "once"))
		evs := eventsOf(tr.snapshot(), pid)
		if len(evs) != 1 || evs[0].Error != 0 || evs[0].Exepath != realPath(t, "/bin/true") {
			t.Errorf("events of pid %d: %+v", pid, evs)
		}
	})
}

// TestOverlayUpperLayer runs binaries and scripts from a real overlayfs mount.
func TestOverlayUpperLayer(t *testing.T) {
	tr := startTracer(t, tracerOptions{ignoreFailed: true, keepOptional: true})
	ov := vmtest.MountOverlay(t)
	merged := ov.Merged
	trueBin := realPath(t, "/bin/true")
	copyFile(t, trueBin, filepath.Join(ov.Lower, "lowertrue"))

	copyFile(t, trueBin, filepath.Join(merged, "uppertrue"))
	script := filepath.Join(merged, "s.sh")
	writeFile(t, script, "#!/bin/sh\n/bin/true\n", 0o755)
	copyFile(t, realPath(t, "/bin/sh"), filepath.Join(merged, "dash"))

	check := func(t *testing.T, e event, upperWant, fupperWant string) {
		t.Helper()
		if e.Upper != upperWant || e.FUpper != fupperWant {
			t.Errorf("%s (file %s): upper_layer %s fupper_layer %s, want %s %s", e.Exepath, e.File, e.Upper, e.FUpper, upperWant, fupperWant)
		}
	}

	t.Run("binary from the lower layer", func(t *testing.T) {
		p := filepath.Join(merged, "lowertrue")
		pid := run(t, exec.Command(p))
		check(t, execOf(t, tr.snapshot(), pid, p), "no", "no")
	})
	t.Run("binary copied in through the merged dir", func(t *testing.T) {
		p := filepath.Join(merged, "uppertrue")
		pid := run(t, exec.Command(p))
		check(t, execOf(t, tr.snapshot(), pid, p), "yes", "yes")
	})
	t.Run("script in the upper layer run directly", func(t *testing.T) {
		pid := run(t, exec.Command(script))
		want := "unknown"
		if tr.bprmHook != "" {
			want = "yes"
		}
		e := execOf(t, tr.snapshot(), pid, realPath(t, "/bin/sh"))
		check(t, e, "no", want)
		if e.File != script {
			t.Errorf("file %q, want %q", e.File, script)
		}
	})
	t.Run("script run as an argument of /bin/sh", func(t *testing.T) {
		pid := run(t, exec.Command("/bin/sh", script))
		e := execOf(t, tr.snapshot(), pid, realPath(t, "/bin/sh"))
		check(t, e, "no", "no")
		if e.File != "/bin/sh" || e.Interp != "" {
			t.Errorf("file %q interp %q", e.File, e.Interp)
		}
	})
	t.Run("parent binary in the upper layer", func(t *testing.T) {
		shell := filepath.Join(merged, "dash")
		pid := run(t, exec.Command(shell, "-c", "/bin/true parent-upper; exit 0"))
		var child []event
		for _, e := range tr.snapshot() {
			if e.ParentPid == uint32(pid) && slices.Equal(e.Args, []string{"/bin/true", "parent-upper"}) {
				child = append(child, e)
			}
		}
		if len(child) != 1 {
			t.Fatalf("want 1 exec of /bin/true by a child of %d, got %+v", pid, child)
		}
		if child[0].PUpper != "yes" || child[0].Upper != "no" {
			t.Errorf("pupper_layer %s upper_layer %s, want yes/no", child[0].PUpper, child[0].Upper)
		}
		self := execOf(t, tr.snapshot(), pid, shell)
		check(t, self, "yes", "yes")
	})
}

// TestNoLoss runs 4 parallel loops of 5000 short-lived execs: every one must be reported and the
// lost-samples counter must stay at zero. The loops run in rounds of 4×250 execs (about 5 MB of
// records, under the 8 MiB ring buffer) and each round's records are read before the next
// starts: whether the reader keeps up with a free-running burst depends on the machine and is
// measured by bench/, not asserted here.
func TestNoLoss(t *testing.T) {
	perLoop, perRound := 5000, 250
	if testing.Short() {
		perLoop = 500
	}
	tr := startTracer(t, tracerOptions{ignoreFailed: true})
	script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", perRound)
	var pids []int
	for range perLoop / perRound {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			cmd := exec.Command("/bin/sh", "-c", script)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, cmd.Process.Pid)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = cmd.Wait()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		tr.snapshot() // reads what the round wrote
	}
	counts := map[uint32]int{}
	for _, e := range tr.snapshot() {
		if slices.Contains(pids, int(e.ParentPid)) && e.File == "/bin/true" {
			counts[e.ParentPid]++
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != 4*perLoop {
		t.Errorf("got %d exec events from the loops (%d shells), want %d", total, len(counts), 4*perLoop)
	}
	if lost := tr.lost(t); lost != 0 {
		t.Errorf("%d events lost", lost)
	}
}

// TestMountNamespaceFilter checks the shared container filter: with gadget_filter_by_mntns on,
// only execs in the mount namespaces of gadget_mntns_filter_map are reported.
func TestMountNamespaceFilter(t *testing.T) {
	tr := startTracer(t, tracerOptions{ignoreFailed: true, filterMntns: true})
	cmd := exec.Command("/bin/sh", "-c", "read x; /bin/true in-namespace; exit 0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a shell in a new mount namespace: %v", err)
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	mntns, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]"), 10, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", link, err)
	}
	if mntns == selfMntns(t) {
		t.Fatal("the child shares the test's mount namespace")
	}
	if err := tr.coll.Maps["gadget_mntns_filter_map"].Put(mntns, uint32(1)); err != nil {
		t.Fatalf("filling gadget_mntns_filter_map: %v", err)
	}
	run(t, exec.Command("/bin/true", "outside"))
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	evs := tr.snapshot()
	inside := 0
	for _, e := range evs {
		if e.MntnsID != mntns {
			t.Errorf("event from mount namespace %d passed the filter: %+v", e.MntnsID, e)
		}
		if slices.Equal(e.Args, []string{"/bin/true", "in-namespace"}) && e.ParentPid == uint32(cmd.Process.Pid) {
			inside++
		}
	}
	if inside != 1 {
		t.Errorf("want 1 event from the filtered namespace, got %d (all: %+v)", inside, evs)
	}
}
