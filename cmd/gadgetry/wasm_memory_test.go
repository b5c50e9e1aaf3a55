package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRunWASMMemoryLimit runs, through the gadgetry binary, an image whose WASM guest
// (runtime/wasm/testdata/hog) grows its memory: to 1 GiB in gadgetInit under the default
// limit, past --wasm-memory-limit in its first event callback, and within a raised limit.
// The first two fail with the limit error, alone on stderr; the third runs; none leaves a
// program or map in the kernel (a link holds its program: no program, no link).
func TestRunWASMMemoryLimit(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin := runTestBinary(t)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(gadgettest.TestdataDir(), "exec.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"program.bpf.c": src,
		"guest.wasm":    gadgettest.WASM(t, filepath.Join(gadgettest.RepoRoot(), "runtime", "wasm", "testdata", "hog")),
		"build.yaml":    []byte("wasm: guest.wasm\n"),
		"gadget.yaml": []byte(`name: hog
params:
  wasm:
    where: {key: where, description: init or callback}
    mib: {key: mib, description: MiB to allocate}
    ds: {key: ds, description: the data source to subscribe to}
`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	gadgettest.BuildImage(t, bin, store, dir, "hog-test")
	gadgetry := func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"--store", store, "run", "hog-test", "--pull", "never"}, args...)...)
	}
	// failedWith checks that gadgetry exited with status code and wrote only want to stderr.
	failedWith := func(t *testing.T, code int, err error, stderr, want string) {
		t.Helper()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != code || stderr != want+"\n" {
			t.Errorf("gadgetry: %v; stderr:\n%s\nwant exit status %d and only %q", err, stderr, code, want)
		}
	}

	t.Run("help", func(t *testing.T) {
		out, err := gadgetry("--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--wasm-memory-limit uint32") || !strings.Contains(string(out), "(default 256)") {
			t.Fatalf("run --help (%v) does not show --wasm-memory-limit with its default:\n%s", err, out)
		}
	})

	t.Run("init", func(t *testing.T) {
		before := gadgettest.Objects(t, "gtest")
		cmd := gadgetry("--where", "init", "--mib", "1024")
		stderr := &gadgettest.SyncBuffer{}
		cmd.Stderr = stderr
		err := cmd.Run()
		failedWith(t, 1, err, stderr.String(), "Error: gadget hog: wasm module exceeded its memory limit (256 MiB); raise it with --wasm-memory-limit")
		gadgettest.CheckClean(t, "gtest", before)
	})

	t.Run("callback", func(t *testing.T) {
		before := gadgettest.Objects(t, "gtest")
		cmd := gadgetry("--where", "callback", "--mib", "128", "--ds", "exec", "--wasm-memory-limit", "64")
		stderr := &gadgettest.SyncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// The run ends by itself at the first exec event it reads; exec until it does.
		exe := gadgettest.UniqueExecutable(t)
		guard := time.After(time.Minute)
		var err error
	wait:
		for {
			_ = exec.Command(exe).Run()
			select {
			case err = <-exited:
				break wait
			case <-time.After(50 * time.Millisecond):
			case <-guard:
				cmd.Process.Kill()
				t.Fatalf("gadgetry still running after a minute of execs (hang guard); stderr:\n%s", stderr)
			}
		}
		failedWith(t, 1, err, stderr.String(), "Error: gadget hog: wasm module exceeded its memory limit (64 MiB); raise it with --wasm-memory-limit")
		gadgettest.CheckClean(t, "gtest", before)
	})

	t.Run("raised", func(t *testing.T) {
		before := gadgettest.Objects(t, "gtest")
		out, err := gadgetry("--where", "init", "--mib", "128", "--wasm-memory-limit", "192", "-t", "0.2", "-o", "json").CombinedOutput()
		if err != nil {
			t.Fatalf("128 MiB under a 192 MiB limit: %v\n%s", err, out)
		}
		gadgettest.CheckClean(t, "gtest", before)
	})

	t.Run("bad", func(t *testing.T) {
		for _, v := range []string{"0", "4097"} {
			out, err := gadgetry("--wasm-memory-limit", v).CombinedOutput()
			failedWith(t, 2, err, string(out), "Error: --wasm-memory-limit "+v+": want 1 to 4096 (MiB)") // a usage error
		}
	})
}
