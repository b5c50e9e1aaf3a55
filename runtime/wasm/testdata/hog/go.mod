module example.com/testguest/hog

go 1.24

require github.com/gadgetry/gadgetry/wasmapi v0.0.0

replace github.com/gadgetry/gadgetry/wasmapi => ../../../../wasmapi
