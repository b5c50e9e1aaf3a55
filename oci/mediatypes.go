package oci

// Media types and artifact type of gadget images (docs/image-format.md).
const (
	// ArtifactType is the manifest's artifactType (and, for registries that predate it, the
	// reason the manifest's mediaType field is set explicitly).
	ArtifactType = "application/vnd.gadget.v1+binary"
	// MediaTypeMetadata is the config blob: the gadget's gadget.yaml.
	MediaTypeMetadata = "application/vnd.gadget.config.v1+yaml"
	// MediaTypeEBPF is the eBPF ELF object layer, one per architecture.
	MediaTypeEBPF = "application/vnd.gadget.ebpf.program.v1+binary"
	// MediaTypeWASM is the WASI reactor layer, the same blob in every architecture.
	MediaTypeWASM = "application/vnd.gadget.wasm.program.v1+binary"
	// MediaTypeBTFGen is the optional tar.gz of minimized BTF.
	MediaTypeBTFGen = "application/vnd.gadget.btfgen.v1+binary"
)
