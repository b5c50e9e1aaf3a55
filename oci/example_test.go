package oci_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

func ExampleParseReference() {
	for _, s := range []string{"trace_open", "myorg/gadget:v1", "localhost:5000/g/trace_exec"} {
		r, _ := oci.ParseReference(s)
		fmt.Println(r)
	}
	// Output:
	// ghcr.io/inspektor-gadget/gadget/trace_open:latest
	// ghcr.io/myorg/gadget:v1
	// localhost:5000/g/trace_exec:latest
}

// Copy moves an image between any two targets; here from one local store to another.
func ExampleCopy() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	src, _ := oci.OpenStore(dir + "/a")
	dst, _ := oci.OpenStore(dir + "/b")
	ocitest.Push(ctx, src, "localhost/trace_x:v1", ocitest.Simple("trace_x"))

	if _, err := oci.Copy(ctx, src, "localhost/trace_x:v1", dst, ""); err != nil {
		fmt.Println(err)
		return
	}
	g, _ := oci.Load(ctx, dst, "localhost/trace_x:v1", "arm64")
	fmt.Println(g.Arch, string(g.EBPF))
	// Output: arm64 ebpf-arm64-trace_x
}
