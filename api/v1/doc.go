// Package apiv1 is the node daemon's gRPC API, version 1 (gadgetry.proto; see
// docs/kubernetes.md). gadgetry.pb.go and gadgetry_grpc.pb.go are generated from
// gadgetry.proto by protoc (Debian's protobuf-compiler) with protoc-gen-go and
// protoc-gen-go-grpc at the versions scripts/setup.sh installs into bin/; they are committed,
// and TestGenerated fails when they differ from what the .proto generates:
//
//	go generate ./api/v1
package apiv1

//go:generate sh -c "PATH=../../bin:$PATH protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative gadgetry.proto"
