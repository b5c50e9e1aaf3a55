package oci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// ErrUnverified is returned (wrapped, as a *VerifyError) when an image has no signature that a
// trusted key verifies for its digest.
var ErrUnverified = errors.New("image signature not verified")

// Failure says why an image's signatures do not verify.
type Failure string

// Reasons an image does not verify; each has its own message (VerifyError).
const (
	// Unsigned: there is no signature for the image's digest.
	Unsigned Failure = "unsigned"
	// UntrustedKey: there are signatures, but no trusted key verifies any of them.
	UntrustedKey Failure = "untrusted-key"
	// OtherImage: a trusted signature is stored for the image, but it signs another image
	// that a tag of the repository names: another tag's signature was copied to it.
	OtherImage Failure = "other-image"
	// Changed: a trusted signature is stored for the image, but it signs a digest no tag
	// names: the image was changed after it was signed.
	Changed Failure = "changed"
	// Withdrawn: the registry has no signature for the image, but the local store holds one a
	// trusted key verifies from an earlier pull: it was deleted from the registry.
	Withdrawn Failure = "withdrawn"
)

// VerifyError says why an image does not verify, and what to do. It matches ErrUnverified.
type VerifyError struct {
	// Reason is the kind of failure.
	Reason Failure
	msg    string
}

func (e *VerifyError) Error() string        { return e.msg }
func (e *VerifyError) Is(target error) bool { return target == ErrUnverified }

// Verification is what a check of an image's signatures found (image inspect shows it).
type Verification struct {
	// Digest is the digest of the image (its top-level index or manifest) that was checked.
	Digest string `json:"digest"`
	// SignatureTag is the tag the signatures are stored under (sha256-<hex>.sig).
	SignatureTag string `json:"signatureTag"`
	// Signatures is how many cosign signatures are stored there (0: not signed).
	Signatures int `json:"signatures"`
	// TrustedKeys is how many trusted keys the signatures were checked against.
	TrustedKeys int `json:"trustedKeys"`
	// Verified is true when a trusted key verifies a signature of Digest.
	Verified bool `json:"verified"`
	// KeyID and KeySource name the trusted key that verified it.
	KeyID     string `json:"keyID,omitempty"`
	KeySource string `json:"keySource,omitempty"`
	// Problem says why it does not verify (with trusted keys given).
	Problem string `json:"problem,omitempty"`

	err *VerifyError
}

// Err returns nil when the image verified, else the *VerifyError that says why not.
func (v *Verification) Err() error {
	if v.Verified || v.err == nil {
		return nil
	}
	return v.err
}

// CheckSignatures looks up the signatures stored in src for the image with digest d of
// repository repo, and checks them against keys (none: it only counts them). The result says
// whether a trusted key verifies one; the error is for failures to read them (an unreachable
// registry, a corrupt blob). src is a remote repository (signatures under the tag
// sha256-<hex>.sig) or a store tagged with full references (the local store).
func CheckSignatures(ctx context.Context, src oras.ReadOnlyTarget, repo Reference, d digest.Digest, keys []*PublicKey) (*Verification, error) {
	set, err := fetchSignatures(ctx, src, signatureRef(src, repo, d))
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("reading its signatures (%s): %w", SignatureTag(d), err)
	}
	return check(ctx, src, repo, d, set, keys), nil
}

// VerifyImage checks that src has a signature of the image with digest d that one of keys
// verifies (CheckSignatures); when it has not, the error is a *VerifyError saying why.
func VerifyImage(ctx context.Context, src oras.ReadOnlyTarget, repo Reference, d digest.Digest, keys []*PublicKey) (*Verification, error) {
	v, err := CheckSignatures(ctx, src, repo, d, keys)
	if err != nil {
		return nil, err
	}
	return v, v.Err()
}

// check judges set (nil: no signature manifest) against keys for the image with digest d.
// src is where set came from: it is asked which tag names a digest another signature signs.
func check(ctx context.Context, src oras.ReadOnlyTarget, repo Reference, d digest.Digest, set *signatureSet, keys []*PublicKey) *Verification {
	v := &Verification{Digest: d.String(), SignatureTag: SignatureTag(d), TrustedKeys: len(keys)}
	if set != nil {
		v.Signatures = len(set.sigs)
	}
	if len(keys) == 0 {
		return v
	}
	where := "the registry"
	if _, ok := src.(*remote.Repository); !ok {
		where = "the local store"
	}
	if v.Signatures == 0 {
		hint := "sign it (gadgetry image sign, or cosign sign --key), or pass --verify-image=false to use it unverified"
		if where != "the registry" {
			hint = "pull it again to fetch its signatures from the registry (gadgetry image pull), or pass --verify-image=false to use it unverified"
		}
		v.fail(Unsigned, fmt.Sprintf("not signed: %s has no signature for %s (no tag %s); %s", where, d, v.SignatureTag, hint))
		return v
	}
	// A signature counts only when a trusted key verifies it: the claims of any other are
	// an unknown signer's word.
	var others []string
	for _, s := range set.sigs {
		if s.sig == nil {
			continue
		}
		for _, k := range keys {
			if !k.verify(s.sig, s.payload) {
				continue
			}
			if s.signed == d.String() {
				v.Verified, v.KeyID, v.KeySource = true, k.ID, k.Source
				return v
			}
			others = append(others, s.signed)
			break
		}
	}
	if len(others) == 0 {
		var names []string
		for _, k := range keys {
			names = append(names, k.String())
		}
		var what string
		switch {
		case v.Signatures == 1 && len(keys) == 1:
			what = "its signature does not verify with the trusted key " + names[0]
		case v.Signatures == 1:
			what = "its signature verifies with none of the trusted keys " + strings.Join(names, ", ")
		case len(keys) == 1:
			what = fmt.Sprintf("none of its %d signatures verifies with the trusted key %s", v.Signatures, names[0])
		default:
			what = fmt.Sprintf("none of its %d signatures verifies with any of the trusted keys %s", v.Signatures, strings.Join(names, ", "))
		}
		hint := "trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key"
		v.fail(UntrustedKey, "signed, but not by a trusted key: "+what+"; "+hint)
		return v
	}
	other := others[0]
	if other == "" {
		other = "no image digest (its payload is not a cosign simple-signing document)"
	}
	if od, err := digest.Parse(other); err == nil {
		if tags := tagsNaming(ctx, src, repo, od); len(tags) > 0 {
			v.fail(OtherImage, fmt.Sprintf("its signature is another image's: the trusted signature stored for %s signs %s, which %s names; it was copied from there and this image is not signed: do not use it, and sign it if it is yours (gadgetry image sign)",
				d, od, count(len(tags), "tag "+tags[0], "tags "+strings.Join(tags, ", "))))
			return v
		}
	}
	v.fail(Changed, fmt.Sprintf("the image was changed after it was signed: the trusted signature stored for %s signs %s, which no tag names now; do not use it, and if the change is yours, sign the new image (gadgetry image sign)", d, other))
	return v
}

func (v *Verification) fail(reason Failure, msg string) {
	v.err = &VerifyError{Reason: reason, msg: msg}
	v.Problem = msg
}

// count says one for n == 1, else many.
func count(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// maxTagsResolved bounds the tags of a remote repository resolved to find which names a
// digest (only when a verification already failed).
const maxTagsResolved = 100

// tagsNaming returns the tags of repository repo in src that name digest d, sorted.
func tagsNaming(ctx context.Context, src oras.ReadOnlyTarget, repo Reference, d digest.Digest) []string {
	var out []string
	switch s := src.(type) {
	case *Store:
		es, err := s.List(ctx)
		if err != nil {
			return nil
		}
		for _, e := range es {
			if r, err := ParseReference(e.Ref); err == nil && r.RepositoryName() == repo.RepositoryName() && e.Descriptor.Digest == d {
				out = append(out, r.Tag)
			}
		}
	case *remote.Repository:
		tags, err := Tags(ctx, s)
		if err != nil {
			return nil
		}
		for i, t := range tags {
			if i == maxTagsResolved {
				break
			}
			if desc, err := s.Resolve(ctx, t); err == nil && desc.Digest == d {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}
