// The WASM guest of the IG-style test gadget: build.yaml names this file (wasm:
// go/program.go), as Inspektor Gadget's gadgets do, and the builder compiles it.
package main

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

func main() {}
