package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestAuthoringGuide runs the commands of docs/authoring.md, in order, as they are written there:
// from `gadget init` to running the gadget by reference from a real registry. The only changes
// are the ones a reader makes on their own machine: the registry's address (a docker-registry
// started for the test instead of localhost:5000), the SDK's directory for `gadget init`, a
// private store, and, for `run`, JSON output so the test can read the events.
func TestAuthoringGuide(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin := runTestBinary(t)
	reg := testregistry.Start(t, testregistry.Options{})
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "authoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps := guideCommands(string(guide))
	if len(steps) < 5 {
		t.Fatalf("docs/authoring.md has %d gadgetry commands in sh blocks; want init, build, push, rm, run", len(steps))
	}
	work := t.TempDir()
	env := append(os.Environ(), "GADGETRY_STORE="+filepath.Join(work, "store"))
	for i, step := range steps {
		args := strings.Fields(strings.ReplaceAll(step, "localhost:5000", reg.Host))[1:]
		switch args[0] {
		case "gadget":
			args = append(args, "--wasmapi", filepath.Join(root, "wasmapi"))
		case "run":
			if i != len(steps)-1 {
				t.Fatalf("docs/authoring.md: `run` should be the last step, found %q", step)
			}
			runGuideGadget(t, bin, work, env, append(args, "-o", "json"))
			return
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		t.Logf("$ gadgetry %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("step %d of docs/authoring.md (%s): %v", i+1, step, err)
		}
	}
	t.Fatal("docs/authoring.md never runs the gadget")
}

// guideCommands returns the `gadgetry ...` lines of the guide's ```sh blocks.
func guideCommands(md string) []string {
	var cmds []string
	block := regexp.MustCompile("(?s)```sh\n(.*?)```")
	for _, m := range block.FindAllStringSubmatch(md, -1) {
		for _, line := range strings.Split(m[1], "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "gadgetry ") {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// runGuideGadget runs the guide's last step and waits for an event of a uniquely named child
// carrying the greeting the guide passes (--greeting=hi).
func runGuideGadget(t *testing.T, bin, work string, env, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = work, env
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	child := gadgettest.UniqueExecutable(t)
	name := filepath.Base(child)
	found := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), name) {
				continue
			}
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				found <- ev
				return
			}
		}
	}()
	// Exec the child until its event shows up: the run pulls and compiles first.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev := <-found:
			if ev["greeting"] != "hi" {
				t.Fatalf("event of %s: greeting = %v, want \"hi\" (event: %v)", name, ev["greeting"], ev)
			}
			return
		case <-tick.C:
			_ = exec.Command(child).Run()
		case <-ctx.Done():
			t.Fatalf("no event of %s from `gadgetry %s`; stderr:\n%s", name, strings.Join(args, " "), stderr)
		}
	}
}
