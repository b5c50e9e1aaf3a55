package build_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci/build"
)

// Build a gadget directory into an in-memory store and tag it. Any oras.Target works the same
// way: the local store (oci.OpenStore), an OCI layout, a remote repository.
func ExampleBuild() {
	ctx := context.Background()
	store := memory.New()
	desc, err := build.Build(ctx, "gadgets/trace_exec", build.Options{
		Target:   store,
		Archs:    []string{"amd64", "arm64"},
		Progress: os.Stderr, // "compiling program.bpf.c for amd64", clang warnings, …
	})
	if err != nil {
		log.Fatal(err) // e.g. "compiling program.bpf.c for arm64 failed: clang-19: exit status 1:\nprogram.bpf.c:12:3: error: …"
	}
	if err := store.Tag(ctx, desc, "trace_exec"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(desc.Digest)
}
