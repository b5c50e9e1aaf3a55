package gadgettest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Event is one event of `gadgetry run -o json`, decoded.
type Event map[string]any

// Get returns the value at a dotted path ("proc.pid"), or nil.
func (e Event) Get(path string) any {
	var cur any = map[string]any(e)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// Str returns the string at path ("" when it is not a string).
func (e Event) Str(path string) string {
	s, _ := e.Get(path).(string)
	return s
}

// Num returns the number at path (0 when it is not a number).
func (e Event) Num(path string) uint64 {
	f, _ := e.Get(path).(float64)
	return uint64(f)
}

// List returns the list of strings at path (argv).
func (e Event) List(path string) []string {
	l, ok := e.Get(path).([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, a := range l {
		s, _ := a.(string)
		out = append(out, s)
	}
	return out
}

// Time returns the RFC 3339 time at path ("timestamp"), or the zero time. A gadget's
// timestamps come from the kernel's boot-time clock, so two events of one run compare in the
// order they happened, where process ids do not: they wrap at pid_max (32768 on some hosts),
// and a test that takes "a larger pid" for "a later exec" fails once in a while there.
func (e Event) Time(path string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.Str(path))
	return t
}

// Latest returns the latest of ts (the zero time for none).
func Latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// LatestTime returns the latest time at path among events (the zero time for none).
func LatestTime(events []Event, path string) time.Time {
	var l time.Time
	for _, e := range events {
		l = Latest(l, e.Time(path))
	}
	return l
}

func (e Event) String() string {
	b, _ := json.Marshal(map[string]any(e))
	return string(b)
}

// CLIRun is a running `gadgetry run ... -o json`: its events (stdout's JSON lines), its stderr,
// read while it runs, and its summary (--summary-file, read when it has exited).
type CLIRun struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *SyncBuffer
	// summaryFile is the --summary-file StartCLI gives the run.
	summaryFile string
	// signalled is the signal Signal or Stop sent first (0: none): gadgetry then exits with
	// status 128 + it, which Wait takes as a clean end.
	signalled atomic.Int32

	mu      sync.Mutex
	events  []Event
	summary map[string]any
	changed chan struct{} // closed and replaced on every new line
	done    chan struct{} // closed when stdout ends
	waitErr error
	waited  chan struct{} // closed once the process was waited for
}

// StartCLI starts `bin args...` (args include "run", the gadget and "-o json") with env added
// to the environment, and returns at once. When the test ends a run still going gets SIGINT.
// The run writes its summary to a file of the test's (--summary-file), and, unless env sets
// XDG_STATE_HOME, keeps its once-per-host notices in a directory of the test's, so every run
// gives them.
func StartCLI(t testing.TB, env []string, bin string, args ...string) *CLIRun {
	t.Helper()
	r := &CLIRun{t: t, stderr: &SyncBuffer{}, changed: make(chan struct{}), done: make(chan struct{}), waited: make(chan struct{})}
	dir := t.TempDir()
	r.summaryFile = filepath.Join(dir, "summary.json")
	args = append(args[:len(args):len(args)], "--summary-file", r.summaryFile)
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state")), env...)
	r.cmd.Stderr = r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", bin, strings.Join(args, " "), err)
	}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				fmt.Fprintf(r.stderr, "test: stdout line is not JSON: %v: %s\n", err, sc.Text())
				continue
			}
			r.mu.Lock()
			r.events = append(r.events, Event(m))
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	go func() {
		<-r.done
		r.waitErr = r.cmd.Wait()
		var exit *exec.ExitError
		if sig := r.signalled.Load(); sig != 0 && errors.As(r.waitErr, &exit) && exit.ExitCode() == 128+int(sig) {
			r.waitErr = nil // how gadgetry ends a run the signal stopped
		}
		if b, err := os.ReadFile(r.summaryFile); err == nil {
			r.mu.Lock()
			_ = json.Unmarshal(b, &r.summary)
			r.mu.Unlock()
		}
		close(r.waited)
	}()
	t.Cleanup(func() {
		if r.Running() {
			r.signalled.CompareAndSwap(0, int32(syscall.SIGINT))
			_ = r.cmd.Process.Signal(syscall.SIGINT)
		}
		select {
		case <-r.waited:
		case <-time.After(time.Minute):
			_ = r.cmd.Process.Kill()
			t.Errorf("gadgetry did not end within a minute of SIGINT; stderr:\n%s", r.stderr)
		}
	})
	return r
}

// Pid is the gadgetry process's id.
func (r *CLIRun) Pid() int { return r.cmd.Process.Pid }

// Stderr returns what gadgetry wrote to stderr so far.
func (r *CLIRun) Stderr() string { return r.stderr.String() }

// Running reports whether gadgetry has not exited yet.
func (r *CLIRun) Running() bool {
	select {
	case <-r.waited:
		return false
	default:
		return true
	}
}

// WaitFor returns the first event matching pred, calling poke (when not nil) before each wait
// for more events (every 100 ms while none comes). It fails the test when gadgetry exits first,
// or after a minute without a match (a hang guard).
func (r *CLIRun) WaitFor(what string, pred func(Event) bool, poke func()) Event {
	r.t.Helper()
	deadline := time.After(time.Minute)
	seen := 0
	for {
		if poke != nil {
			poke()
		}
		r.mu.Lock()
		for ; seen < len(r.events); seen++ {
			if pred(r.events[seen]) {
				e := r.events[seen]
				r.mu.Unlock()
				return e
			}
		}
		changed := r.changed
		r.mu.Unlock()
		var tick <-chan time.Time
		if poke != nil {
			tick = time.After(100 * time.Millisecond)
		}
		select {
		case <-changed:
		case <-tick:
		case <-r.done:
			r.mu.Lock()
			n := len(r.events)
			r.mu.Unlock()
			if seen == n {
				<-r.waited
				r.t.Fatalf("gadgetry exited (%v) before %s was reported; stderr:\n%s", r.waitErr, what, r.stderr)
			}
		case <-deadline:
			r.t.Fatalf("no event for %s within a minute; stderr:\n%s", what, r.stderr)
		}
	}
}

// Matching returns the events read so far that match pred.
func (r *CLIRun) Matching(pred func(Event) bool) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// Signal sends sig to gadgetry. The first signal sent is the one whose exit status (128 +
// it) Wait takes as a clean end.
func (r *CLIRun) Signal(sig os.Signal) {
	r.t.Helper()
	if s, ok := sig.(syscall.Signal); ok {
		r.signalled.CompareAndSwap(0, int32(s))
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signalling gadgetry: %v", err)
	}
}

// Wait waits (a minute at most: a hang guard) until gadgetry exits and returns how it exited:
// nil for a clean end, which after Signal(sig) is exit status 128 + sig (how gadgetry says a
// signal stopped the run).
func (r *CLIRun) Wait() error {
	r.t.Helper()
	select {
	case <-r.waited:
	case <-time.After(time.Minute):
		r.t.Fatalf("gadgetry still running after a minute; stderr:\n%s", r.stderr)
	}
	return r.waitErr
}

// Stop ends the run with SIGINT, fails the test if gadgetry then exits with an error (exit
// status 130 is the clean end of a run SIGINT stops), and returns its summary (--summary-file).
func (r *CLIRun) Stop() map[string]any {
	r.t.Helper()
	if r.Running() {
		r.signalled.CompareAndSwap(0, int32(syscall.SIGINT))
		_ = r.cmd.Process.Signal(syscall.SIGINT)
	}
	if err := r.Wait(); err != nil {
		r.t.Errorf("gadgetry exited with %v; stderr:\n%s", err, r.stderr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary
}
