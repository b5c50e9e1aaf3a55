module github.com/gadgetry/gadgetry/gadgets/traceloop/go

go 1.23
