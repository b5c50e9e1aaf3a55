// Package syscalls maps Linux syscall names to numbers and back for amd64 and arm64, and
// describes a syscall's parameters from the kernel's tracefs.
//
// The tables are generated (go generate) from the kernel UAPI headers that Debian ships in
// linux-libc-dev (amd64) and linux-libc-dev-arm64-cross (arm64); nothing is typed by hand. The
// package-level functions use the architecture of the running kernel (uname), not the one the
// binary was built for, so an amd64 binary under an arm64 kernel's emulation still answers for
// the kernel that produced the events.
package syscalls

//go:generate sh -c "go run ./internal/gen -uapi $(../../scripts/fetch-uapi.sh)"
