module github.com/gadgetry/gadgetry/gadgets/traceloop/go

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.0.0

// The SDK lives in this repository.
replace github.com/gadgetry/gadgetry/wasmapi => ../../../wasmapi
