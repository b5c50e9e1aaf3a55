module example.com/testguest/wasmcontainers

go 1.24
