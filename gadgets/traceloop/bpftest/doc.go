// Package bpftest holds the kernel tests of the traceloop gadget: they compile
// ../program.bpf.c with clang, load it with cilium/ebpf, attach it to the running kernel and
// check the records it writes. (Go forbids .c files in a Go package directory, hence this
// subdirectory.) The package itself has no code.
package bpftest
