module github.com/gadgetry/gadgetry/wasmapi

go 1.23
