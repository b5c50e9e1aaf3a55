module github.com/gadgetry/gadgetry/gadgets/block_exec/go

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.2.0
