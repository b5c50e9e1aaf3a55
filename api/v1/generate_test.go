package apiv1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tool finds a code generator: on PATH, else in the repository's bin/ (scripts/setup.sh puts
// protoc-gen-go and protoc-gen-go-grpc there). Missing, the test skips on a development
// machine and fails in CI.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", "bin", name))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := name + " is missing: run scripts/setup.sh (it installs protobuf-compiler and builds the protoc plugins into bin/)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestGenerated regenerates the Go code from gadgetry.proto and compares it with the committed
// files: an edit of the .proto without `go generate ./api/v1` fails here.
func TestGenerated(t *testing.T) {
	protoc := tool(t, "protoc")
	goPlugin := tool(t, "protoc-gen-go")
	grpcPlugin := tool(t, "protoc-gen-go-grpc")
	out := t.TempDir()
	cmd := exec.Command(protoc, "-I", ".",
		"--plugin=protoc-gen-go="+goPlugin, "--plugin=protoc-gen-go-grpc="+grpcPlugin,
		"--go_out="+out, "--go_opt=paths=source_relative",
		"--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative", "gadgetry.proto")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	for _, f := range []string{"gadgetry.pb.go", "gadgetry_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("api/v1/%s differs from what gadgetry.proto generates: run `go generate ./api/v1` (with scripts/setup.sh's protoc and plugins) and commit the result", f)
		}
	}
}
