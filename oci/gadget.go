// Package oci is the gadget image format: media types, references, the local OCI image-layout
// store, registries, and moving images between them.
package oci

// Gadget is what the runtime needs from an image: the blobs of one architecture's manifest.
// Loading an image (from the built-in catalogue, the local store or a registry) produces one.
type Gadget struct {
	// Ref is the reference the image was resolved from, normalized
	// ("ghcr.io/org/name:tag"), or the bare name of a built-in gadget ("trace_exec").
	Ref string
	// Digest is the digest of the top-level object (index or manifest) the reference names.
	Digest string
	// ManifestDigest is the digest of the manifest chosen for Arch.
	ManifestDigest string
	// Arch is the GOARCH-style architecture of the chosen manifest ("amd64", "arm64").
	Arch string
	// Metadata is the raw gadget.yaml (the image config blob); empty when the image has none.
	Metadata []byte
	// EBPF is the eBPF ELF object for Arch.
	EBPF []byte
	// WASM is the WASI reactor module; nil when the image has none.
	WASM []byte
	// BTFGen is the tar.gz of minimized BTF; nil when the image has none.
	BTFGen []byte
	// Annotations are the manifest's annotations (title, description, created, ...).
	Annotations map[string]string
	// Warnings are things Load skipped and a user may want to know (unknown layer types).
	Warnings []string
	// BuiltIn is true for a gadget of the built-in catalogue, trusted as part of the binary.
	BuiltIn bool
	// Pulled is true when Resolver.Resolve fetched the image from its registry (rather than
	// finding it in the built-in catalogue or the local store).
	Pulled bool
	// Signature is what verifying the image's signatures found (Resolver.Keys); nil when
	// nothing was verified (a built-in gadget, or no trusted keys).
	Signature *Verification
}
