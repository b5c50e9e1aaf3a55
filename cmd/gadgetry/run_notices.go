package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// warningHandler prints the runtime's warnings as "warning: msg" lines on stderr. A warning
// that only says what this kernel lacks (a hook none of whose programs can attach here) is
// said in one short line, once per host (noticeState); -q leaves it out.
type warningHandler struct {
	w     io.Writer
	quiet bool
	seen  *noticeState
	attrs []slog.Attr
}

func (h warningHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warningHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	if short, key, ok := shortHookWarning(msg); ok {
		if h.quiet || !h.seen.first(key) {
			return nil
		}
		msg = short
	}
	var b strings.Builder
	b.WriteString("warning: " + msg)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			b.WriteString(": " + a.Value.String())
		}
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h warningHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return warningHandler{w: h.w, quiet: h.quiet, seen: h.seen, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

func (h warningHandler) WithGroup(string) slog.Handler { return h }

// hookWarningRE matches the runtime's warning about a hook none of whose optional programs
// this kernel can attach (runtime/run.go, warnSkipped).
var hookWarningRE = regexp.MustCompile(`^gadget (\S+): hook (\S+) is unavailable on this kernel \((.*)\)(?:; unknown: (.*))?$`)

// shortHookWarning turns the runtime's hook warning ("gadget trace_exec: hook
// security_bprm_check is unavailable on this kernel (bprm_check_fentry needs BPF trampolines
// (fentry/fexit), bprm_check_kprobe needs kprobes (CONFIG_KPROBE_EVENTS)); unknown: ...") into
// one short line, and returns the key it is remembered by. ok is false for other warnings.
func shortHookWarning(msg string) (short, key string, ok bool) {
	m := hookWarningRE.FindStringSubmatch(msg)
	if m == nil {
		return "", "", false
	}
	gadget, hook, how, unknown := m[1], m[2], m[3], m[4]
	// "p1 needs F1 (detail), p2 needs F2 (detail)" → "F1 or F2".
	var needs []string
	for _, part := range strings.Split(how, ", ") {
		_, f, found := strings.Cut(part, " needs ")
		if !found {
			continue
		}
		if i := strings.Index(f, " ("); i > 0 {
			f = f[:i]
		}
		if !containsString(needs, f) {
			needs = append(needs, f)
		}
	}
	short = fmt.Sprintf("%s: no %s hook on this kernel", gadget, hook)
	if len(needs) > 0 {
		short += " (needs " + strings.Join(needs, " or ") + ")"
	}
	if unknown != "" {
		short += "; unknown: " + unknown
	}
	return short, gadget + " hook " + hook, true
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// noticeState remembers, in a file of the user's state directory ($XDG_STATE_HOME/gadgetry,
// else ~/.local/state/gadgetry), the notices already given on this host, per kernel release:
// what a kernel lacks does not change from run to run, so it is said once. A state that cannot
// be read or written only means the notice is said again.
type noticeState struct {
	mu     sync.Mutex
	path   string
	kernel string
	done   map[string]bool
}

// noticeFile is the state file's name in the state directory.
const noticeFile = "notices"

func newNoticeState() *noticeState {
	s := &noticeState{done: map[string]bool{}}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return s
		}
		dir = filepath.Join(home, ".local", "state")
	}
	s.path = filepath.Join(dir, "gadgetry", noticeFile)
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		s.kernel = unix.ByteSliceToString(uts.Release[:])
	}
	if f, err := os.Open(s.path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			s.done[sc.Text()] = true
		}
		f.Close()
	}
	return s
}

// first reports whether key was not noticed on this host and kernel before, and records it.
func (s *noticeState) first(key string) bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	line := s.kernel + "\t" + key
	if s.done[line] {
		return false
	}
	s.done[line] = true
	if s.path != "" {
		if os.MkdirAll(filepath.Dir(s.path), 0o755) == nil {
			if f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
				fmt.Fprintln(f, line)
				f.Close()
			}
		}
	}
	return true
}
