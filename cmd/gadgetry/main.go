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
	if p := os.Getenv("GADGETRY_CPUPROFILE"); p != "" {
		stop, err := startProfile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		exit(1)
	}
}

// profileStop, when set, ends the CPU profile before the process exits.
var profileStop func()

func exit(code int) {
	if profileStop != nil {
		profileStop()
	}
	os.Exit(code)
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("GADGETRY_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("GADGETRY_CPUPROFILE: %w", err)
	}
	profileStop = func() {
		pprof.StopCPUProfile()
		f.Close()
		profileStop = nil
	}
	return func() {
		if profileStop != nil {
			profileStop()
		}
	}, nil
}
