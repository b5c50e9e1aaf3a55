package traceexec_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the program that performs the exec forms Go's os/exec cannot:
// execveat with a directory fd, fexecve, a memfd, a deleted file, exec from a non-leader thread.
const (
	helperModeEnv = "GADGETRY_TRACE_EXEC_HELPER"
	helperArgEnv  = "GADGETRY_TRACE_EXEC_HELPER_ARG"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperModeEnv); mode != "" {
		err := runHelper(mode, os.Getenv(helperArgEnv))
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		os.Exit(3)
	}
	os.Exit(gadgettest.Main(m))
}

// helperCommand runs this test binary as the helper for mode.
func helperCommand(t testing.TB, mode, arg string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperArgEnv+"="+arg)
	return cmd
}

// runHelper only returns on failure.
func runHelper(mode, arg string) error {
	argv := []string{"true", mode}
	switch mode {
	case "execveat-dirfd":
		fd, err := unix.Open("/usr/bin", unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		return execveat(fd, "true", argv, 0)
	case "fexecve":
		fd, err := unix.Open("/usr/bin/true", unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		return execveat(fd, "", argv, unix.AT_EMPTY_PATH)
	case "memfd":
		content, err := os.ReadFile("/usr/bin/true")
		if err != nil {
			return err
		}
		fd, err := unix.MemfdCreate("gadgetry-test", 0)
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, content); err != nil {
			return err
		}
		return execveat(fd, "", argv, unix.AT_EMPTY_PATH)
	case "deleted":
		fd, err := unix.Open(arg, unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		if err := unix.Unlink(arg); err != nil {
			return err
		}
		return execveat(fd, "", argv, unix.AT_EMPTY_PATH)
	case "thread":
		// Exec from a thread that is not the leader: lock goroutines to threads until one runs on
		// a thread whose id differs from the pid, then write that id to arg and exec there.
		errc := make(chan error)
		var try func()
		try = func() {
			runtime.LockOSThread()
			tid := unix.Gettid()
			if tid == unix.Getpid() {
				go try()
				select {} // keep the leader busy so the next goroutine gets another thread
			}
			if err := os.WriteFile(arg, []byte(strconv.Itoa(tid)), 0o644); err != nil {
				errc <- err
				return
			}
			errc <- syscall.Exec("/usr/bin/true", argv, os.Environ())
		}
		go try()
		return <-errc
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func execveat(dirfd int, path string, argv []string, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	av, err := cStrings(argv)
	if err != nil {
		return err
	}
	ev, err := cStrings(os.Environ())
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&av[0])), uintptr(unsafe.Pointer(&ev[0])), uintptr(flags), 0)
	return fmt.Errorf("execveat: %w", errno)
}

// cStrings builds a NULL-terminated array of C strings for execveat.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, 0, len(ss)+1)
	for _, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return append(out, nil), nil
}
