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
// from `gadget init` to running the gadget by reference from a real registry, as an author
// outside this repository would: in a temporary directory, with an empty GOPATH, GOCACHE and
// SDK cache, GOPROXY=off and GOFLAGS unset, so the SDK can only come from the gadgetry binary.
// It runs twice: with standard Go, and with TinyGo, where the guide's TinyGo build command
// (its ```sh tinygo block) replaces the build step. The only other changes are the ones a
// reader makes on their own machine: the registry's address (a docker-registry started for the
// test instead of localhost:5000), a private store (and an empty one for the last step, so the
// gadget is pulled from the registry), and, for `run`, JSON output so the test can read the
// events.
func TestAuthoringGuide(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin := runTestBinary(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "authoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps := guideCommands(string(guide), "sh")
	if len(steps) < 5 {
		t.Fatalf("docs/authoring.md has %d gadgetry commands in sh blocks; want init, build, push, rm, run", len(steps))
	}
	tinyBuild := guideCommands(string(guide), "sh tinygo")
	if len(tinyBuild) != 1 || !strings.HasPrefix(tinyBuild[0], "gadgetry image build ") {
		t.Fatalf("docs/authoring.md should have one ```sh tinygo block with its TinyGo `gadgetry image build` command, found %q", tinyBuild)
	}
	for _, toolchain := range []string{"go", "tinygo"} {
		t.Run(toolchain, func(t *testing.T) {
			if toolchain == "tinygo" {
				gadgettest.RequireTinyGo(t)
			}
			reg := testregistry.Start(t, testregistry.Options{})
			work := t.TempDir()
			if strings.HasPrefix(work, root) {
				t.Fatalf("the temporary directory %s is inside the checkout", work)
			}
			env := outsideEnv(t, work)
			for i, step := range steps {
				if toolchain == "tinygo" && strings.HasPrefix(step, "gadgetry image build ") {
					step = tinyBuild[0]
				}
				args := strings.Fields(strings.ReplaceAll(step, "localhost:5000", reg.Host))[1:]
				if args[0] == "run" {
					if i != len(steps)-1 {
						t.Fatalf("docs/authoring.md: `run` should be the last step, found %q", step)
					}
					// Another machine: an empty store, the image comes from the registry.
					runEnv := append(env, "GADGETRY_STORE="+filepath.Join(work, "empty-store"))
					runGuideGadget(t, bin, work, runEnv, append(args, "-o", "json"))
					if toolchain == "tinygo" {
						checkToolchainAnnotation(t, bin, work, runEnv, args[1], "tinygo ")
					}
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
		})
	}
}

// outsideEnv is the environment of an author outside this repository with nothing cached: an
// empty GOPATH, GOCACHE and SDK cache, no module proxy, no GOFLAGS or GOWORK, a private store.
func outsideEnv(t *testing.T, work string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPATH", "GOCACHE", "GOPROXY", "GOFLAGS", "GOWORK", "GOMODCACHE", "GADGETRY_SDK_CACHE", "GADGETRY_STORE", "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	fresh := t.TempDir()
	return append(env,
		"GOPATH="+filepath.Join(fresh, "gopath"),
		"GOCACHE="+filepath.Join(fresh, "gocache"),
		"GADGETRY_SDK_CACHE="+filepath.Join(fresh, "sdk"),
		"GOPROXY=off",
		"GADGETRY_STORE="+filepath.Join(work, "store"),
	)
}

// checkToolchainAnnotation checks that `image inspect` of ref (pulled into the store by the
// run) says which toolchain and SDK built its WASM module.
func checkToolchainAnnotation(t *testing.T, bin, work string, env []string, ref, toolchainPrefix string) {
	t.Helper()
	cmd := exec.Command(bin, "image", "inspect", ref)
	cmd.Dir, cmd.Env = work, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gadgetry image inspect %s: %v\n%s", ref, err, out)
	}
	if !regexp.MustCompile(`wasm built with +` + regexp.QuoteMeta(toolchainPrefix) + `.*, github.com/gadgetry/gadgetry/wasmapi v\d+\.\d+\.\d+`).Match(out) {
		t.Errorf("image inspect does not say the module was built with %q and the SDK:\n%s", toolchainPrefix, out)
	}
}

// guideCommands returns the `gadgetry ...` lines of the guide's code blocks whose info string
// is exactly info ("sh", "sh tinygo").
func guideCommands(md, info string) []string {
	var cmds []string
	block := regexp.MustCompile("(?s)```" + regexp.QuoteMeta(info) + "\n(.*?)```")
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
