package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2"
)

// PullPolicy says when Resolver.Resolve fetches an image from its registry.
type PullPolicy string

// Pull policies.
const (
	// PullAlways fetches the image even when the store has it (a tag may have moved).
	PullAlways PullPolicy = "always"
	// PullMissing fetches the image only when the store lacks it.
	PullMissing PullPolicy = "missing"
	// PullNever uses only the built-in catalogue and the store.
	PullNever PullPolicy = "never"
)

// ParsePullPolicy checks a --pull value.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case PullAlways, PullMissing, PullNever:
		return p, nil
	case "":
		return PullMissing, nil
	}
	return "", fmt.Errorf("invalid pull policy %q: want always, missing or never", s)
}

// Resolver finds the gadget a reference names: a bare name in the built-in catalogue first,
// then the local store, then its registry (pulled into the store).
type Resolver struct {
	// Catalogue is the built-in gadgets' read-only layout, tagged with bare names; may be nil.
	Catalogue oras.ReadOnlyTarget
	// Store is the local store; when nil, pulled images are kept in memory only.
	Store *Store
	// Registry says how to reach registries; nil means the zero Registry.
	Registry *Registry
	// DefaultPrefix is the registry prefix of bare names; empty means DefaultPrefix.
	DefaultPrefix string
	// Keys are the trusted keys. With any, an image from the local store or a registry is
	// returned only when one of them verifies a signature of its digest (VerifyImage): the
	// store's signatures for a stored image, the registry's for a pulled one. Built-in gadgets
	// are trusted as part of the binary.
	Keys []*PublicKey
}

// Resolve returns the gadget ref names, for arch ("" = this machine's).
func (r *Resolver) Resolve(ctx context.Context, ref string, pull PullPolicy, arch string) (*Gadget, error) {
	prefix := r.DefaultPrefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	p, err := ParseReferenceWithPrefix(ref, prefix)
	if err != nil {
		return nil, err
	}
	if pull == "" {
		pull = PullMissing
	}
	if p.Bare && r.Catalogue != nil && p.Digest == "" {
		names := []string{p.Name + ":" + p.Tag}
		if p.Tag == DefaultTag {
			names = []string{p.Name, names[0]}
		}
		for _, n := range names {
			if _, err := r.Catalogue.Resolve(ctx, n); err == nil {
				g, err := Load(ctx, r.Catalogue, n, arch)
				if err != nil {
					return nil, fmt.Errorf("built-in gadget %s: %w", n, err)
				}
				g.Ref = p.Name
				g.BuiltIn = true
				return g, nil
			}
		}
	}
	name := p.String()
	if r.Store != nil && pull != PullAlways {
		g, err := r.loadStored(ctx, name, arch)
		if err == nil {
			if len(r.Keys) > 0 {
				// The digest of what was loaded (every blob checked against it) is what must
				// be signed.
				if g.Signature, err = VerifyImage(ctx, r.Store, p, digest.Digest(g.Digest), r.Keys); err != nil {
					return nil, fmt.Errorf("verifying %s: %w", name, err)
				}
			}
			return g, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if pull == PullNever {
		where := "the local store"
		if p.Bare && r.Catalogue != nil {
			where = "the built-in gadgets or the local store"
		}
		return nil, fmt.Errorf("%s is not in %s and the pull policy is never: pull it first (gadgetry image pull %s) or use --pull missing", name, where, name)
	}
	reg := r.Registry
	if reg == nil {
		reg = &Registry{}
	}
	if r.Store != nil {
		root, v, err := reg.PullVerified(ctx, r.Store, name, r.Keys)
		if err != nil {
			return nil, err
		}
		// Load what was pulled and verified by its digest: the tag may move meanwhile.
		g, err := Load(ctx, r.Store, root.Digest.String(), arch)
		if err != nil {
			return nil, fmt.Errorf("loading %s from the local store: %w", name, err)
		}
		g.Ref, g.Signature, g.Pulled = name, v, true
		return g, nil
	}
	repo, err := reg.Repository(p)
	if err != nil {
		return nil, err
	}
	mem, root, err := Stage(ctx, repo, p.Object())
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", name, Explain(repo, err))
	}
	var v *Verification
	if len(r.Keys) > 0 {
		if v, err = VerifyImage(ctx, repo, p, root.Digest, r.Keys); err != nil {
			return nil, fmt.Errorf("verifying %s: %w", name, Explain(repo, err))
		}
	}
	if err := mem.Tag(ctx, root, name); err != nil {
		return nil, err
	}
	g, err := Load(ctx, mem, name, arch)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	g.Signature, g.Pulled = v, true
	return g, nil
}

// loadStored loads name from the local store.
func (r *Resolver) loadStored(ctx context.Context, name, arch string) (*Gadget, error) {
	g, err := Load(ctx, r.Store, name, arch)
	if err != nil {
		return nil, fmt.Errorf("loading %s from the local store: %w", name, err)
	}
	return g, nil
}
