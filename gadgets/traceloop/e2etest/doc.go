// Package e2etest is the acceptance test of the traceloop gadget (issue 6) through the real
// command line: it builds the gadgetry binary, builds the gadget's image into a temporary store
// with `gadgetry image build`, and runs it with `gadgetry run` against a child process doing
// known syscalls. The package itself has no code.
package e2etest
