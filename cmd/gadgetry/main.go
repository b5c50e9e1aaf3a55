// Command gadgetry runs eBPF gadgets packaged as OCI images and manages those images.
//
// The command is a thin client of the runtime and oci packages: it parses flags, builds the
// options those packages take, and prints what they return.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
