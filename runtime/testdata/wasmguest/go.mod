module example.com/gadgetry/runtime/testdata/wasmguest

go 1.24

require github.com/gadgetry/gadgetry/wasmapi v0.0.0

replace github.com/gadgetry/gadgetry/wasmapi => ../../../wasmapi
