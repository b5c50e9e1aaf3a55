package oci

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
)

// Signed is what Registry.Sign did.
type Signed struct {
	// Ref is the image signed, normalized.
	Ref Reference
	// Digest is the digest signed: the image's top-level index or manifest.
	Digest digest.Digest
	// SignatureRef is where the signatures are: registry/repository:sha256-<hex>.sig.
	SignatureRef string
	// Signatures is how many signatures are stored there now.
	Signatures int
	// AlreadySigned is true when a signature by the key was there already (nothing pushed).
	AlreadySigned bool
	// InStore is true when the local store holds the image and got the signatures too.
	InStore bool
}

// Sign signs the image ref names in its registry with key, as `cosign sign --key` does: the
// simple-signing payload naming the digest the reference resolves to, signed with ECDSA P-256
// over SHA-256, added as a layer to the signature manifest tagged sha256-<hex>.sig (created
// when missing; the signatures already there are kept). An image the key has signed already
// is left as it is. When store (may be nil) holds the same image under ref, the signatures are
// written there too, so a run from the store verifies without pulling again.
func (o *Registry) Sign(ctx context.Context, store *Store, ref string, key *PrivateKey) (*Signed, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	s, err := o.sign(ctx, store, r, key)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", r, err)
	}
	return s, nil
}

func (o *Registry) sign(ctx context.Context, store *Store, r Reference, key *PrivateKey) (*Signed, error) {
	repo, err := o.Repository(r)
	if err != nil {
		return nil, err
	}
	root, err := repo.Resolve(ctx, r.Object())
	if err != nil {
		return nil, Explain(repo, notFound(ctx, repo, r.Object(), err))
	}
	tag := SignatureTag(root.Digest)
	out := &Signed{Ref: r, Digest: root.Digest, SignatureRef: Reference{Registry: r.Registry, Repository: r.Repository, Tag: tag}.String()}
	set, err := fetchSignatures(ctx, repo, tag)
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("reading the signatures already there (%s): %w", tag, Explain(repo, err))
	}
	if set != nil {
		for _, s := range set.sigs {
			if s.sig != nil && s.signed == root.Digest.String() && key.Public.verify(s.sig, s.payload) {
				out.AlreadySigned, out.Signatures = true, len(set.sigs)
				return out, o.storeSignatures(ctx, store, r, root, set, out)
			}
		}
	} else {
		set = &signatureSet{mem: memory.New()}
	}
	p, err := signaturePayload(r.RepositoryName(), root.Digest)
	if err != nil {
		return nil, err
	}
	sig, err := key.sign(p)
	if err != nil {
		return nil, fmt.Errorf("signing the payload: %w", err)
	}
	layer := content.NewDescriptorFromBytes(MediaTypeSimpleSigning, p)
	layer.Annotations = map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}
	if err := pushIfMissing(ctx, set.mem, layer, p); err != nil {
		return nil, err
	}
	set.layers = append(set.layers, layer)
	set.sigs = append(set.sigs, cosignSignature{layer: layer, payload: p, sig: sig, signed: root.Digest.String()})
	if set.desc, err = buildSignatureManifest(ctx, set.mem, set.layers); err != nil {
		return nil, err
	}
	if err := set.writeTo(ctx, repo, tag); err != nil {
		return nil, fmt.Errorf("pushing the signature (%s): %w", tag, Explain(repo, err))
	}
	out.Signatures = len(set.sigs)
	return out, o.storeSignatures(ctx, store, r, root, set, out)
}

// storeSignatures writes set into store when store holds the image root under r.
func (o *Registry) storeSignatures(ctx context.Context, store *Store, r Reference, root ocispec.Descriptor, set *signatureSet, out *Signed) error {
	if store == nil {
		return nil
	}
	if d, err := store.Resolve(ctx, r.String()); err != nil || d.Digest != root.Digest {
		return nil
	}
	err := store.holdForCopy(func() error {
		return set.writeTo(ctx, store, signatureRef(store, r, root.Digest))
	})
	if err != nil {
		return fmt.Errorf("the registry has the signature; storing it in the local store too: %w", err)
	}
	out.InStore = true
	return nil
}
