module github.com/gadgetry/gadgetry/examples/exec_annotate

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.0.0

replace github.com/gadgetry/gadgetry/wasmapi => ../../../wasmapi
