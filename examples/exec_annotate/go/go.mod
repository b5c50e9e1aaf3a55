module github.com/gadgetry/gadgetry/examples/exec_annotate

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.2.0
