package runtime_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// hostBTFPath is where a btfgen archive holds this machine's BTF, computed independently of
// the runtime: btfhub-archive's <ID>/<VERSION_ID>/<uname -m>/<uname -r>.btf.
func hostBTFPath(t *testing.T) (path, release, distro string) {
	t.Helper()
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Skipf("no /etc/os-release: %v", err)
	}
	var id, ver string
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "ID="); ok {
			id = strings.Trim(v, `"`)
		}
		if v, ok := strings.CutPrefix(l, "VERSION_ID="); ok {
			ver = strings.Trim(v, `"`)
		}
	}
	uname := func(flag string) string {
		out, err := exec.Command("uname", flag).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	release = uname("-r")
	return id + "/" + ver + "/" + uname("-m") + "/" + release + ".btf", release, id + " " + ver
}

// tarGz packs files (path → content) into a tar.gz.
func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// minCoreBTF runs bpftool gen min_core_btf for obj against the kernel's BTF.
func minCoreBTF(t *testing.T, obj []byte) []byte {
	t.Helper()
	bpftool := gadgettest.RequireTool(t, "bpftool")
	dir := t.TempDir()
	o := filepath.Join(dir, "exec.bpf.o")
	if err := os.WriteFile(o, obj, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "min.btf")
	if b, err := exec.Command(bpftool, "gen", "min_core_btf", runtime.DefaultKernelBTFPath, out, o).CombinedOutput(); err != nil {
		t.Fatalf("bpftool gen min_core_btf: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noBTF is a runtime that believes the kernel has no BTF.
func noBTF(t *testing.T) *runtime.Runtime {
	return runtime.New(runtime.Options{KernelBTFPath: filepath.Join(t.TempDir(), "no-vmlinux")})
}

func TestBTFGenLoadsWithoutKernelBTF(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "exec")
	path, _, _ := hostBTFPath(t)
	img := gadgettest.Image("test_exec", obj, execYAML)
	img.BTFGen = tarGz(t, map[string][]byte{
		path:                               minCoreBTF(t, obj),
		"other/1/x86_64/0.0.0-nothere.btf": []byte("not read"),
	})
	before := gadgettest.Objects(t, prefix)
	rt := noBTF(t)
	g, err := rt.Prepare(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	bin := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)
	var c capture
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{
		Hooks: []runtime.Hooks{c.hooks(t, output.JSON, "", "proc.comm=="+comm)},
	})
	if err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{}
	out := c.wait(t, run, 1, func() { pids[runBin(t, bin)] = true })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
	line, _, _ := strings.Cut(out, "\n")
	var ev struct {
		Proc struct {
			Comm string `json:"comm"`
			PID  int    `json:"pid"`
		} `json:"proc"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("bad JSON %q: %v", line, err)
	}
	if ev.Proc.Comm != comm || !pids[ev.Proc.PID] {
		t.Errorf("event proc = %s/%d, want %s and one of the pids run %v", ev.Proc.Comm, ev.Proc.PID, comm, pids)
	}
}

// startErr starts the exec gadget with btfgen layer layer on rt and returns the error, which
// must leave the kernel clean.
func startErr(t *testing.T, rt *runtime.Runtime, layer []byte) error {
	t.Helper()
	gadgettest.RequireRoot(t)
	img := gadgettest.Image("test_exec", gadgettest.Compile(t, "exec"), execYAML)
	img.BTFGen = layer
	before := gadgettest.Objects(t, prefix)
	g, err := rt.Prepare(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err == nil {
		run.Stop()
	}
	gadgettest.CheckClean(t, prefix, before)
	return err
}

func TestBTFGenNoEntryForKernel(t *testing.T) {
	path, release, distro := hostBTFPath(t)
	for name, layer := range map[string][]byte{
		"no layer":    nil,
		"other entry": tarGz(t, map[string][]byte{"ubuntu/20.04/x86_64/5.4.0-1-generic.btf": []byte("x")}),
	} {
		t.Run(name, func(t *testing.T) {
			err := startErr(t, noBTF(t), layer)
			t.Log(err)
			if !errors.Is(err, runtime.ErrNoKernelBTF) {
				t.Fatalf("err = %v, want one wrapping ErrNoKernelBTF", err)
			}
			for _, want := range []string{"gadget test_exec", release, distro, "CONFIG_DEBUG_INFO_BTF", "btfgen layer"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if layer != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the entry looked for (%s)", err, path)
			}
		})
	}
}

func TestBTFGenBadArchive(t *testing.T) {
	path, _, _ := hostBTFPath(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("this is not a tar archive, it is just some text that is long enough to fail............................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"))
	zw.Close()
	for name, tc := range map[string]struct {
		layer []byte
		want  string
	}{
		"not gzip":      {[]byte("plain bytes"), "not gzip"},
		"not tar":       {gz.Bytes(), "not a valid tar"},
		"entry not BTF": {tarGz(t, map[string][]byte{path: []byte("garbage, not BTF")}), "is not BTF"},
	} {
		t.Run(name, func(t *testing.T) {
			err := startErr(t, noBTF(t), tc.layer)
			t.Log(err)
			if err == nil || errors.Is(err, runtime.ErrNoKernelBTF) {
				t.Fatalf("err = %v, want a bad-archive error", err)
			}
			for _, want := range []string{"gadget test_exec", "btfgen layer", tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// TestBTFGenTypesAreUsed: an entry that is valid BTF but lacks the types the gadget reads
// fails the load, so the archive's types (not the kernel's) are what relocations resolve
// against.
func TestBTFGenTypesAreUsed(t *testing.T) {
	path, _, _ := hostBTFPath(t)
	b, err := btf.NewBuilder([]btf.Type{&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = startErr(t, noBTF(t), tarGz(t, map[string][]byte{path: raw}))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "gadget test_exec") {
		t.Fatalf("err = %v, want a load error: the btfgen entry has no task_struct", err)
	}
}

// TestBTFGenIgnoredWithKernelBTF: with kernel BTF the layer is never read, so even a corrupt
// one does not matter.
func TestBTFGenIgnoredWithKernelBTF(t *testing.T) {
	if _, err := os.Stat(runtime.DefaultKernelBTFPath); err != nil {
		t.Skipf("kernel has no BTF: %v", err)
	}
	if err := startErr(t, runtime.New(runtime.Options{}), []byte("corrupt")); err != nil {
		t.Fatalf("a corrupt btfgen layer was read although the kernel has BTF: %v", err)
	}
}
