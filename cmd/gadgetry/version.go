package main

import (
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci/build/sdk"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3". Without it the
// version comes from the module's build information (go install ...@v1.2.3 records v1.2.3; a
// build in a git checkout records a pseudo-version, or the commit when -buildvcs is on).
var version = ""

// wasmABIVersion is the WASM ABI version the host speaks: what a guest's gadgetAPIVersion
// must return (runtime/wasm checks it; ../shared/reference/gadget-abi.md, section 4).
const wasmABIVersion = 1

// gadgetryVersion returns this binary's version: -ldflags, else the main module's version
// from the build information, else the VCS revision it was built from, else "(devel)".
func gadgetryVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "(devel) " + rev
}

// printVersion writes what `gadgetry version` and `gadgetry --version` print: the version,
// then the versions a gadget image must match (the guest SDK image build supplies, the WASM
// ABI) and what built the binary.
func printVersion(w io.Writer) {
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(w, "gadgetry %s\n", gadgetryVersion())
	fmt.Fprintf(w, "  guest SDK:  %s %s (supplied to image build)\n", sdk.Module, sdk.Version)
	fmt.Fprintf(w, "  WASM ABI:   %d (gadgetAPIVersion)\n", wasmABIVersion)
	fmt.Fprintf(w, "  built with: %s %s/%s\n", goVersion, goruntime.GOOS, goruntime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of gadgetry, of its guest SDK and of the WASM ABI",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			printVersion(cmd.OutOrStdout())
			return nil
		},
	}
}
