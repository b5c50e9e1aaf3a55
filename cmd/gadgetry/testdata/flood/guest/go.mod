module example.com/testguest/flood

go 1.23

require github.com/gadgetry/gadgetry/wasmapi v0.0.0

replace github.com/gadgetry/gadgetry/wasmapi => ../../../../../wasmapi
