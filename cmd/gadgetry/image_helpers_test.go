package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cliEnv is an environment for the built binary that reads none of this machine's settings:
// HOME, the config file, the Docker config and the store are the test's own, and no
// GADGETRY_* variable comes from outside. extra are added last.
func cliEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GADGETRY_") || k == "HOME" || k == "DOCKER_CONFIG" || k == "XDG_CONFIG_HOME" || k == "COSIGN_PASSWORD" {
			continue
		}
		env = append(env, kv)
	}
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"GADGETRY_CONFIG="+filepath.Join(home, "config.yaml"), "GADGETRY_STORE="+filepath.Join(home, "store"))
	return append(env, extra...)
}

// cliResult is what a run of the built binary printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built binary with args in env, stdin as its input.
func runCLI(t *testing.T, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(runTestBinary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("gadgetry %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{stdout.String(), stderr.String(), code}
}

// wantError checks that r is a failure with exit status code whose stderr is exactly
// "Error: "+msg and whose stdout is empty.
func (r cliResult) wantError(t *testing.T, code int, msg string) {
	t.Helper()
	if r.code != code || r.stderr != "Error: "+msg+"\n" || r.stdout != "" {
		t.Errorf("exit %d, want %d\nstderr: %q\nwant:   %q\nstdout: %q", r.code, code, r.stderr, "Error: "+msg+"\n", r.stdout)
	}
}

// ok checks that r succeeded and returns its stdout.
func (r cliResult) ok(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// silentRegistry listens on loopback, accepts every connection and never answers (a hung
// registry). It returns its address.
func silentRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// pty is a pseudo-terminal: the test holds the controller, a command gets the terminal.
type pty struct {
	ctl, term *os.File
	mu        sync.Mutex
	out       bytes.Buffer
	done      chan struct{}
}

// openPTY opens a pseudo-terminal and starts copying what is written to it.
func openPTY(t *testing.T) *pty {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	term, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{ctl: ctl, term: term, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := ctl.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { term.Close(); ctl.Close() })
	return p
}

// start runs cmd with the terminal as its stdin and stderr (stdout is the caller's choice)
// and as its controlling terminal.
func (p *pty) start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Stdin, cmd.Stderr = p.term, p.term
	if cmd.Stdout == nil {
		cmd.Stdout = p.term
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// output returns what was written to the terminal so far.
func (p *pty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s (a minute at most: a hang guard, not a verdict).
func (p *pty) waitFor(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if strings.Contains(p.output(), s) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the terminal never showed %q; it shows:\n%q", s, p.output())
}

// write types s on the terminal.
func (p *pty) write(t *testing.T, s string) {
	t.Helper()
	if _, err := p.ctl.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
