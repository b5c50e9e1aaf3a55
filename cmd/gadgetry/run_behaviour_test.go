package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// textBuffer is a gadgettest.SyncBuffer a test can wait on.
type textBuffer struct{ gadgettest.SyncBuffer }

// waitFor waits until the buffer holds s (waitText).
func (b *textBuffer) waitFor(t *testing.T, what, s string, poke func(), exited <-chan struct{}) {
	t.Helper()
	waitText(t, b.String, what, s, poke, exited)
}

// waitText waits until text() holds s, calling poke (when not nil) between looks; a minute at
// most (a hang guard, not a verdict). exited, when it closes first, fails the test.
func waitText(t *testing.T, text func() string, what, s string, poke func(), exited <-chan struct{}) {
	t.Helper()
	guard := time.After(time.Minute)
	for !strings.Contains(text(), s) {
		if poke != nil {
			poke()
		}
		select {
		case <-exited:
			if strings.Contains(text(), s) {
				return
			}
			t.Fatalf("gadgetry exited before %s; the output:\n%s", what, text())
		case <-guard:
			t.Fatalf("no %s within a minute (hang guard); the output so far:\n%s", what, text())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startRun starts the built gadgetry with args and env; its stdout and stderr go to the
// returned buffers. exited closes when it has exited; wait returns its exit status.
func startRun(t *testing.T, env []string, args ...string) (stdout, stderr *textBuffer, cmd *exec.Cmd, exited chan struct{}, wait func() int) {
	t.Helper()
	stdout, stderr = &textBuffer{}, &textBuffer{}
	cmd = exec.Command(runTestBinary(t), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	return stdout, stderr, cmd, exited, func() int {
		t.Helper()
		select {
		case <-exited:
		case <-time.After(time.Minute):
			t.Fatalf("gadgetry still running a minute after it was asked to stop (hang guard); stderr:\n%s", stderr.String())
		}
		return exitStatusOf(err)
	}
}

// TestRunShowsSomething: a run that selects a container that is not running prints the table's
// header at once and says which container it waits for, keeps running, says when the container
// starts, shows the container's execs, and exits 130 at SIGINT, stdout holding the header and
// the container's execs only. The container's init exec may come before the in-kernel filter
// holds the container (docs/containers.md, "Limits"), so the test execs in the container until
// one shows.
func TestRunShowsSomething(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	name := fmt.Sprintf("web-%d", os.Getpid())
	stdout, stderr, cmd, exited, wait := startRun(t, cliEnv(t), "run", "trace_exec", "-c", name, "--runc-root", env.Root, "--fields", "proc.comm,exepath")
	stdout.waitFor(t, "the header", "\n", nil, exited)
	note := "note: no container named " + name + " is running; waiting for it to start\n"
	stderr.waitFor(t, "the container note", note, nil, exited)
	if got, want := stdout.String(), "PROC.COMM        EXEPATH\n"; got != want {
		t.Errorf("stdout %q, want the header %q", got, want)
	}
	c := env.Start(runc.Options{Name: name})
	stderr.waitFor(t, "the note of the container's start", "\nnote: container "+name+" started\n", nil, exited)
	stdout.waitFor(t, "an exec in the container", "\ntrue ", func() {
		_ = exec.Command("runc", "--root", env.Root, "exec", c.ID, "/bin/true").Run()
	}, exited)
	cmd.Process.Signal(syscall.SIGINT)
	if s := wait(); s != 130 {
		t.Errorf("exit status %d after SIGINT, want 130; stderr:\n%s", s, stderr.String())
	}
	// Under the header, the container's execs only: its init's (busybox's sleep), when the
	// filter held the container in time, and the test's (busybox's true).
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if lines[0] != "PROC.COMM        EXEPATH" {
		t.Errorf("stdout %q: want the header first", stdout.String())
	}
	for _, l := range lines[1:] {
		if l != "sleep            /bin/busybox" && l != "true             /bin/busybox" {
			t.Errorf("stdout line %q is not an exec of the container (stdout %q)", l, stdout.String())
		}
	}
}

// TestRunColumnsFitTerminal: on a terminal the table fits its width (TIOCGWINSZ, or $COLUMNS),
// a long value is cut with "…" and the columns stay under their headers; --wide keeps values
// whole, and so does a pipe.
func TestRunColumnsFitTerminal(t *testing.T) {
	gadgettest.RequireRoot(t)
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	long := strings.Repeat("a-long-argument-", 12) // 192 characters
	for _, tc := range []struct {
		name  string
		env   []string
		args  []string
		width int // 0: the line holds every value whole
		pty   bool
	}{
		{"terminal 80", nil, nil, 80, true},
		{"COLUMNS=120", []string{"COLUMNS=120"}, nil, 120, true},
		{"--wide", nil, []string{"--wide"}, 0, true},
		{"-o wide", nil, []string{"-o", "wide"}, 0, true},
		{"pipe", nil, nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "trace_exec", "--comm", comm, "--fields", "proc.comm,proc.pid,exepath,args,upper_layer"}, tc.args...)
			cmd := exec.Command(runTestBinary(t), args...)
			cmd.Env = cliEnv(t, tc.env...)
			exited := make(chan struct{})
			var text func() string
			if tc.pty {
				p := openPTY(t)
				if err := unix.IoctlSetWinsize(int(p.term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 80}); err != nil {
					t.Fatal(err)
				}
				p.start(t, cmd) // stdout and stderr on the terminal
				text = func() string { return strings.ReplaceAll(p.output(), "\r\n", "\n") }
			} else {
				out := &textBuffer{}
				cmd.Stdout, cmd.Stderr = out, &bytes.Buffer{}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				text = out.String
			}
			go func() { cmd.Wait(); close(exited) }()
			defer func() {
				cmd.Process.Signal(syscall.SIGINT)
				<-exited
			}()
			waitText(t, text, "the exec's row", "\n"+comm, func() { _ = exec.Command(exe, long).Run() }, exited)
			var header, row string
			waitText(t, func() string {
				// The row, once its line is whole.
				for _, l := range strings.Split(text(), "\n") {
					if strings.HasPrefix(l, "PROC.COMM") {
						header = l
					}
				}
				_, after, _ := strings.Cut(text(), "\n"+comm)
				if _, _, whole := strings.Cut(after, "\n"); whole {
					return "row"
				}
				return ""
			}, "the whole row", "row", nil, exited)
			for _, l := range strings.Split(text(), "\n") {
				switch {
				case strings.HasPrefix(l, "PROC.COMM"):
					header = l
				case strings.HasPrefix(l, comm) && row == "":
					row = l
				}
			}
			if header == "" || row == "" {
				t.Fatalf("no header or row in:\n%s", text())
			}
			if tc.width == 0 {
				if !strings.Contains(row, exe+" "+long) || strings.Contains(row, "…") {
					t.Errorf("a value was cut:\n%s\n%s", header, row)
				}
				return
			}
			for _, l := range []string{header, row} {
				if n := len([]rune(l)); n > tc.width {
					t.Errorf("a line of %d characters on a terminal of %d:\n%s", n, tc.width, l)
				}
			}
			if !strings.Contains(row, "…") {
				t.Errorf("nothing was cut:\n%s\n%s", header, row)
			}
			// Each column starts under its header.
			hr, rr := []rune(header), []rune(row)
			for _, name := range []string{"EXEPATH", "ARGS", "UPPER_LAYER"} {
				col := len([]rune(header[:strings.Index(header, name)]))
				if col >= len(rr) || rr[col-1] != ' ' || rr[col] == ' ' {
					t.Errorf("column %s starts at %d in the header but not in the row:\n%s\n%s", name, col, string(hr), string(rr))
				}
			}
		})
	}
}

// TestRunStdoutOneShape: -o yaml and -o json put records on stdout and nothing else; the
// summary goes to stderr (--summary json: the summary object, one line) or to --summary-file.
func TestRunStdoutOneShape(t *testing.T) {
	gadgettest.RequireRoot(t)
	exe := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(exe)
	for _, mode := range []string{"yaml", "json"} {
		t.Run(mode, func(t *testing.T) {
			sumFile := filepath.Join(t.TempDir(), "summary.json")
			stdout, stderr, cmd, exited, wait := startRun(t, cliEnv(t), "run", "trace_exec", "-o", mode, "--comm", comm,
				"--fields", "proc.comm,exepath", "--summary", "json", "--summary-file", sumFile, "-q")
			stdout.waitFor(t, "an event", exe, func() { _ = exec.Command(exe).Run() }, exited)
			cmd.Process.Signal(syscall.SIGINT)
			if s := wait(); s != 130 {
				t.Fatalf("exit status %d after SIGINT, want 130; stderr:\n%s", s, stderr.String())
			}
			want := map[string]any{"proc": map[string]any{"comm": comm}, "exepath": exe}
			var records []map[string]any
			if mode == "yaml" {
				dec := yaml.NewDecoder(strings.NewReader(stdout.String()))
				for {
					var r map[string]any
					if err := dec.Decode(&r); err != nil {
						break
					}
					records = append(records, r)
				}
			} else {
				for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
					var r map[string]any
					if err := json.Unmarshal([]byte(l), &r); err != nil {
						t.Fatalf("stdout line %q is not a JSON object: %v", l, err)
					}
					records = append(records, r)
				}
			}
			for _, r := range records {
				if fmt.Sprint(r) != fmt.Sprint(want) {
					t.Errorf("stdout holds %v; want records like %v only", r, want)
				}
			}
			if len(records) == 0 {
				t.Fatalf("no record on stdout:\n%s", stdout.String())
			}
			// stderr: the summary object, alone on the last line, as in the file.
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			file, _ := os.ReadFile(sumFile)
			if string(file) != last+"\n" {
				t.Errorf("--summary-file holds %q, stderr's last line is %q", file, last)
			}
			var sum struct {
				DataSources map[string]struct{ Events uint64 } `json:"dataSources"`
			}
			if err := json.Unmarshal([]byte(last), &sum); err != nil || sum.DataSources["exec"].Events < uint64(len(records)) {
				t.Errorf("stderr's last line %q is not a summary of at least %d events (%v)", last, len(records), err)
			}
		})
	}
}

// TestRunHookWarningOnce: where no program of trace_exec's security_bprm_check hook can attach,
// the first run says so in one short line, a later run on the same host says nothing, and -q
// says nothing either.
func TestRunHookWarningOnce(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := cliEnv(t) // one HOME, so one state directory, for the first two runs
	run := func(env []string, args ...string) (warnings []string, skipped int) {
		t.Helper()
		sumFile := filepath.Join(t.TempDir(), "summary.json")
		r := runCLI(t, env, "", append([]string{"run", "trace_exec", "-t", "0.1", "--comm", "nothingrunsthis", "--summary-file", sumFile}, args...)...)
		if r.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if l != "" {
				warnings = append(warnings, l)
			}
		}
		var sum struct {
			SkippedPrograms []string `json:"skippedPrograms"`
		}
		b, _ := os.ReadFile(sumFile)
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatalf("summary %q: %v", b, err)
		}
		return warnings, len(sum.SkippedPrograms)
	}
	first, skipped := run(env)
	if skipped < 2 {
		t.Skip("this kernel attaches a security_bprm_check program: there is nothing to warn about")
	}
	want := "warning: trace_exec: no security_bprm_check hook on this kernel (needs BPF trampolines or kprobes); unknown: fupper_layer of scripts"
	if len(first) != 1 || first[0] != want {
		t.Errorf("first run's stderr:\n%s\nwant the one line\n%s", strings.Join(first, "\n"), want)
	}
	if again, _ := run(env); len(again) != 0 {
		t.Errorf("second run on the same host says:\n%s\nwant nothing", strings.Join(again, "\n"))
	}
	if quiet, _ := run(cliEnv(t), "-q"); len(quiet) != 0 {
		t.Errorf("-q says:\n%s\nwant nothing", strings.Join(quiet, "\n"))
	}
}

// TestRunSecondSIGINT: a run whose first SIGINT cannot complete (its stdout is a pipe nobody
// reads, too small for the events it must still write) exits at a second SIGINT, at once, with
// exit status 130 and the summary so far, and leaves nothing in the kernel. stderr is a
// terminal, where the first SIGINT is acknowledged (two signals sent back to back would be one).
func TestRunSecondSIGINT(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, "trace_exec")
	exe := gadgettest.UniqueExecutable(t)
	// Each event's line holds about 2000 bytes of arguments (what trace_exec keeps of them).
	var args []string
	for i := 0; i < 24; i++ {
		args = append(args, fmt.Sprintf("%02d%s", i, strings.Repeat("x", 98)))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	term := openPTY(t)
	stderr := func() string { return strings.ReplaceAll(term.output(), "\r\n", "\n") }
	cmd := exec.Command(runTestBinary(t), "run", "trace_exec", "-o", "json", "--comm", filepath.Base(exe), "--fields", "args", "-q")
	cmd.Env, cmd.Stdout = cliEnv(t), w
	term.start(t, cmd)
	w.Close()
	exited := make(chan struct{})
	go func() { err = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	// Once an event is in the pipe, two more: the three do not fit in its 4096 bytes, so one can
	// never be written whole.
	waitText(t, func() string {
		n, _ := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		if n > 0 {
			return "written"
		}
		return fmt.Sprintf("%d bytes in the pipe; stderr: %s", n, stderr())
	}, "an event in the pipe", "written", func() { _ = exec.Command(exe, args...).Run() }, exited)
	for i := 0; i < 2; i++ {
		if err := exec.Command(exe, args...).Run(); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	const stopping = "stopping the gadget (SIGINT again exits at once)\n"
	waitText(t, stderr, "the first SIGINT taken", stopping, nil, exited)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("gadgetry still running a minute after two SIGINTs (hang guard); stderr:\n%s", stderr())
	}
	if s := exitStatusOf(err); s != 130 {
		t.Errorf("exit status %d, want 130", s)
	}
	// What it wrote before exiting reaches the terminal's reader soon after.
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(stopping) + `SIGINT again: exiting at once, without waiting for the gadget to stop\nsummary: exec: [1-9][0-9]* events(, .*)?\n$`)
	waitText(t, func() string {
		if re.MatchString(stderr()) {
			return "matched"
		}
		return stderr()
	}, "stderr matching "+re.String(), "matched", nil, nil)
	gadgettest.CheckClean(t, "trace_exec", before)
}

// TestRunStoredImageWins: a bare name that is both a built-in gadget and an image of the local
// store runs the stored image (the user imported or built it under that name), and says which
// ran; -q leaves the note out.
func TestRunStoredImageWins(t *testing.T) {
	env := cliEnv(t)
	runCLI(t, env, "", "image", "tag", "trace_exec", "traceloop").ok(t)
	r := runCLI(t, env, "", "run", "traceloop", "--help")
	if !strings.Contains(r.ok(t), "\nGadget trace_exec: ") {
		t.Errorf("run traceloop --help describes another gadget than the stored one (trace_exec's image):\n%s", r.stdout)
	}
	if want := "note: traceloop: running ghcr.io/inspektor-gadget/gadget/traceloop:latest from the local store, not the built-in gadget traceloop (`gadgetry image rm ghcr.io/inspektor-gadget/gadget/traceloop:latest` to run the built-in)\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if r := runCLI(t, env, "", "run", "traceloop", "--help", "-q"); r.stderr != "" {
		t.Errorf("-q: stderr %q, want nothing", r.stderr)
	}
	// The built-in again once the stored image is removed; an explicit reference is the store's.
	runCLI(t, env, "", "image", "rm", "ghcr.io/inspektor-gadget/gadget/traceloop:latest").ok(t)
	if r := runCLI(t, env, "", "run", "traceloop", "--help"); !strings.Contains(r.ok(t), "\nGadget traceloop: ") || r.stderr != "" {
		t.Errorf("without the stored image, run traceloop --help:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
}

// TestRunContainersDataSourceSelection: a gadget that records no mount namespace selects
// containers when its gadget.yaml asks for the containers data source, as IG's traceloop does
// (`annotations: enable-containers-datasource: "true"`): -c is accepted and its WASM module
// (runtime/testdata/wasmcontainers, which logs each container it is told of as a warning) is
// told of the named container only. Without the annotation -c is refused, saying why.
func TestRunContainersDataSourceSelection(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	env := cliEnv(t)
	src, err := os.ReadFile(filepath.Join(gadgettest.TestdataDir(), "rawring.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	guest := gadgettest.WASM(t, filepath.Join(gadgettest.TestdataDir(), "wasmcontainers"))
	for tag, yaml := range map[string]string{
		"ctds-on":  "name: ctds\nannotations:\n  enable-containers-datasource: \"true\"\n",
		"ctds-off": "name: ctds\n",
	} {
		dir := t.TempDir()
		for name, b := range map[string][]byte{"program.bpf.c": src, "guest.wasm": guest, "build.yaml": []byte("wasm: guest.wasm\n"), "gadget.yaml": []byte(yaml)} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runCLI(t, env, "", "image", "build", dir, "--arch", goruntime.GOARCH, "-t", tag).ok(t)
	}
	rc := runc.NewEnv(t)
	suffix := fmt.Sprintf("%d", os.Getpid())
	in, out := "ctds-in-"+suffix, "ctds-out-"+suffix
	cin, cout := rc.Start(runc.Options{Name: in}), rc.Start(runc.Options{Name: out})

	runCLI(t, env, "", "run", "ctds-off", "-c", in, "--runc-root", rc.Root).wantError(t, 2,
		"gadget ctds records no mount namespace (no field of type gadget_mntns_id) and does not ask for the containers data source (annotation enable-containers-datasource: true): it cannot select containers")

	_, stderr, cmd, exited, wait := startRun(t, env, "run", "ctds-on", "-c", in, "--runc-root", rc.Root)
	stderr.waitFor(t, "the selected container's announcement", fmt.Sprintf("warning: result container=CREATED,%s,%s,%d\n", in, cin.ID, cin.MntNS), nil, exited)
	cmd.Process.Signal(syscall.SIGINT)
	if s := wait(); s != 130 {
		t.Errorf("exit status %d after SIGINT, want 130; stderr:\n%s", s, stderr.String())
	}
	if strings.Contains(stderr.String(), out) || strings.Contains(stderr.String(), cout.ID) {
		t.Errorf("the module was told of %s, which -c leaves out; stderr:\n%s", out, stderr.String())
	}
}
