module github.com/gadgetry/gadgetry/examples/syscall_filter

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.2.0
