// Command gadgetry runs eBPF gadgets packaged as OCI images and manages those images.
//
// The command is a thin client of the runtime and oci packages: it parses flags, builds the
// options those packages take, and prints what they return.
//
// GADGETRY_CPUPROFILE=FILE writes a Go CPU profile of the whole command to FILE (read it with
// `go tool pprof`); bench/ uses it to find where the tracer's own CPU goes.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	stopProfile, err := startProfile(os.Getenv("GADGETRY_CPUPROFILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	err = newRootCmd().Execute()
	stopProfile()
	// 0 ok, 1 error, 2 usage, 128+signal for a run a signal stopped (exit_codes.go).
	os.Exit(report(os.Stderr, err))
}

// startProfile starts a CPU profile written to path (nothing when path is empty) and returns
// the function that ends it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("GADGETRY_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("GADGETRY_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
