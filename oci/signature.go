package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// Signatures are stored the way cosign stores them in a registry (cosign's
// specs/SIGNATURE_SPEC.md; docs/image-format.md, "Signatures"): the signatures of the object
// with digest sha256:<hex> are the layers of one OCI image manifest tagged sha256-<hex>.sig in
// the same repository. Each layer is a simple-signing payload (a small JSON document naming the
// signed digest) whose descriptor carries the base64 ECDSA signature of the payload in the
// annotation dev.cosignproject.cosign/signature. The local store keeps them the same way, under
// the full reference registry/repository:sha256-<hex>.sig.
const (
	// MediaTypeSimpleSigning is the media type of a signature payload layer.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature is the payload layer's annotation holding the base64 signature.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// MaxSignatures bounds the signature layers read from one signature manifest.
	MaxSignatures = 100
	// MaxPayloadSize bounds a signature payload (cosign's are about 250 bytes).
	MaxPayloadSize = 64 << 10
	// maxSignatureConfigSize bounds the signature manifest's config blob.
	maxSignatureConfigSize = 64 << 10
)

// cosignTagRE matches the tags cosign derives from a digest: signatures (.sig), attestations
// (.att) and SBOMs (.sbom). They name no gadget image.
var cosignTagRE = regexp.MustCompile(`^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})\.(sig|att|sbom)$`)

// SignatureTag returns the tag cosign stores the signatures of the object with digest d
// under: "sha256-<hex>.sig".
func SignatureTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded() + ".sig"
}

// IsCosignTag reports whether tag is one cosign derives from a digest (sha256-<hex>.sig,
// .att, .sbom): such a tag names signatures or attestations, not an image.
func IsCosignTag(tag string) bool {
	return cosignTagRE.MatchString(tag)
}

// cosignTagDigest returns the digest a cosign tag is derived from ("sha256:<hex>"); tag must
// match IsCosignTag.
func cosignTagDigest(tag string) string {
	alg, rest, _ := strings.Cut(tag, "-")
	hex, _, _ := strings.Cut(rest, ".")
	return alg + ":" + hex
}

// isCosignRef reports whether the full reference ref (as the store tags) has a cosign tag.
func isCosignRef(ref string) bool {
	r, err := ParseReference(ref)
	return err == nil && r.Digest == "" && IsCosignTag(r.Tag)
}

// signatureRef returns what src resolves the signatures of digest d of repository repo by:
// the tag for a remote repository, the full reference for the local store and other stores.
func signatureRef(src any, repo Reference, d digest.Digest) string {
	if _, ok := src.(*remote.Repository); ok {
		return SignatureTag(d)
	}
	return Reference{Registry: repo.Registry, Repository: repo.Repository, Tag: SignatureTag(d)}.String()
}

// cosignSignature is one layer of a signature manifest.
type cosignSignature struct {
	// layer is the payload's descriptor (with the signature annotation).
	layer ocispec.Descriptor
	// payload is the signed simple-signing document.
	payload []byte
	// sig is the decoded signature; nil when the annotation is missing or not base64.
	sig []byte
	// signed is the digest the payload names (critical.image.docker-manifest-digest); empty
	// when the payload is not a cosign simple-signing document.
	signed string
}

// signatureSet is the signature manifest of one object, held in memory with its blobs.
type signatureSet struct {
	desc ocispec.Descriptor
	// layers are all the manifest's layers, sigs the cosign signatures among them.
	layers []ocispec.Descriptor
	sigs   []cosignSignature
	mem    *memory.Store
}

// fetchSignatures reads the signature manifest ref names in src (signatureRef) with its
// payloads, checking every digest. When src has none, the error wraps errdef.ErrNotFound.
func fetchSignatures(ctx context.Context, src oras.ReadOnlyTarget, ref string) (*signatureSet, error) {
	desc, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return readSignatures(ctx, src, desc)
}

// readSignatures reads the signature manifest desc from src, with its payloads, into memory,
// checking every digest and size.
func readSignatures(ctx context.Context, src content.ReadOnlyStorage, desc ocispec.Descriptor) (*signatureSet, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != mediaTypeDockerManifest {
		return nil, fmt.Errorf("the signature tag names a %q, not an image manifest of signatures", desc.MediaType)
	}
	mem := memory.New()
	opts := oras.CopyGraphOptions{
		MaxMetadataBytes: MaxManifestSize,
		PreCopy: func(_ context.Context, d ocispec.Descriptor) error {
			limit := int64(MaxPayloadSize)
			switch {
			case d.Digest == desc.Digest:
				limit = MaxManifestSize
			case d.MediaType != MediaTypeSimpleSigning:
				limit = maxSignatureConfigSize
			}
			if d.Size < 0 || d.Size > limit {
				return fmt.Errorf("signature blob %s: size %d is outside 0..%d", d.Digest, d.Size, limit)
			}
			return nil
		},
	}
	if err := oras.CopyGraph(ctx, checkedSource{src}, mem, desc, opts); err != nil {
		return nil, copyCause(err)
	}
	b, err := content.FetchAll(ctx, mem, desc)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the signature manifest %s is not valid JSON: %v", desc.Digest, err)
	}
	set := &signatureSet{desc: desc, mem: mem, layers: m.Layers}
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeSimpleSigning {
			continue
		}
		if len(set.sigs) == MaxSignatures {
			return nil, fmt.Errorf("the signature manifest %s has more than %d signatures", desc.Digest, MaxSignatures)
		}
		p, err := content.FetchAll(ctx, mem, l)
		if err != nil {
			return nil, err
		}
		s := cosignSignature{layer: l, payload: p}
		if raw, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationSignature]); err == nil && len(raw) > 0 {
			s.sig = raw
		}
		var claims payload.SimpleContainerImage
		if json.Unmarshal(p, &claims) == nil && claims.Critical.Type == payload.CosignSignatureType {
			s.signed = claims.Critical.Image.DockerManifestDigest
		}
		set.sigs = append(set.sigs, s)
	}
	return set, nil
}

// writeTo copies the signature manifest and its blobs to dst and tags it ref.
func (s *signatureSet) writeTo(ctx context.Context, dst oras.Target, ref string) error {
	if err := oras.CopyGraph(ctx, s.mem, dst, s.desc, oras.DefaultCopyGraphOptions); err != nil {
		return copyCause(err)
	}
	return dst.Tag(ctx, s.desc, ref)
}

// signaturePayload returns the simple-signing payload cosign signs for the object with digest
// d in repository repo ("registry/repository"): the same bytes `cosign sign` makes.
func signaturePayload(repo string, d digest.Digest) ([]byte, error) {
	dr, err := name.NewDigest(repo + "@" + d.String())
	if err != nil {
		return nil, fmt.Errorf("naming %s@%s for the signature: %w", repo, d, err)
	}
	return payload.Cosign{Image: dr}.MarshalJSON()
}

// signatureConfig is the config blob of a signature manifest, as go-containerregistry (which
// cosign builds it with) writes it for an image of the payload layers.
type signatureConfig struct {
	Architecture string `json:"architecture"`
	Created      string `json:"created"`
	History      []struct {
		Created string `json:"created"`
	} `json:"history"`
	OS     string `json:"os"`
	RootFS struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
	Config struct{} `json:"config"`
}

// buildSignatureManifest writes to mem the config and manifest of a signature image whose
// layers are layers (their payloads must already be in mem) and returns the manifest's
// descriptor.
func buildSignatureManifest(ctx context.Context, mem *memory.Store, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	var cfg signatureConfig
	cfg.Created = "0001-01-01T00:00:00Z"
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []digest.Digest{}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
		cfg.History = append(cfg.History, struct {
			Created string `json:"created"`
		}{"0001-01-01T00:00:00Z"})
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cd := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cb)
	if err := pushIfMissing(ctx, mem, cd, cb); err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cd,
		Layers:    layers,
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	if err := pushIfMissing(ctx, mem, md, mb); err != nil {
		return ocispec.Descriptor{}, err
	}
	return md, nil
}

func pushIfMissing(ctx context.Context, dst content.Storage, d ocispec.Descriptor, b []byte) error {
	if ok, err := dst.Exists(ctx, d); err != nil || ok {
		return err
	}
	err := dst.Push(ctx, d, bytes.NewReader(b))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}
