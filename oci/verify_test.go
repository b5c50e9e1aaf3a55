package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// testKey makes a key pair and returns the private key and its public key as a trusted key.
func testKey(t *testing.T, name string) (*oci.PrivateKey, *oci.PublicKey) {
	t.Helper()
	priv, pub, _, err := oci.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := oci.ParsePrivateKey(priv, []byte("pw"), name+".key")
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.ParsePublicKey(pub, name+".pub")
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

// signedRegistry is a registry holding gadget images, some signed, with ways to change it.
type signedRegistry struct {
	t   *testing.T
	ctx context.Context
	reg *testregistry.Registry
	o   *oci.Registry
}

func newSignedRegistry(t *testing.T) *signedRegistry {
	reg := testregistry.Start(t, testregistry.Options{})
	return &signedRegistry{t: t, ctx: context.Background(), reg: reg, o: &oci.Registry{Insecure: []string{reg.Host}, AuthFile: emptyAuthFile(t)}}
}

func (s *signedRegistry) repo(ref string) (*remote.Repository, oci.Reference) {
	s.t.Helper()
	r := mustRef(s.t, ref)
	repo, err := s.o.Repository(r)
	if err != nil {
		s.t.Fatal(err)
	}
	return repo, r
}

// push pushes img as ref and returns its digest.
func (s *signedRegistry) push(ref string, img ocitest.Image) digest.Digest {
	s.t.Helper()
	repo, r := s.repo(ref)
	d, err := ocitest.Push(s.ctx, repo, r.Tag, img)
	if err != nil {
		s.t.Fatal(err)
	}
	return d.Digest
}

func (s *signedRegistry) sign(ref string, k *oci.PrivateKey) *oci.Signed {
	s.t.Helper()
	signed, err := s.o.Sign(s.ctx, nil, ref, k)
	if err != nil {
		s.t.Fatal(err)
	}
	return signed
}

// copySignature tags the signatures of digest from as those of digest to, in ref's repository.
func (s *signedRegistry) copySignature(ref string, from, to digest.Digest) {
	s.t.Helper()
	repo, _ := s.repo(ref)
	d, err := repo.Resolve(s.ctx, oci.SignatureTag(from))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := repo.Tag(s.ctx, d, oci.SignatureTag(to)); err != nil {
		s.t.Fatal(err)
	}
}

// deleteSignature deletes the signature manifest of digest d from ref's repository.
func (s *signedRegistry) deleteSignature(ref string, d digest.Digest) {
	s.t.Helper()
	repo, _ := s.repo(ref)
	desc, err := repo.Resolve(s.ctx, oci.SignatureTag(d))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := repo.Delete(s.ctx, desc); err != nil {
		s.t.Fatal(err)
	}
}

// Every way an image can fail verification is refused on pull with its own message, and leaves
// the store as it was; a signed image pulls verified, with its signatures.
func TestPullVerified(t *testing.T) {
	s := newSignedRegistry(t)
	ctx := s.ctx
	key, trusted := testKey(t, "team")
	_, other := testKey(t, "other")
	host := s.reg.Host

	signedRef := host + "/sig/g:v1"
	signedD := s.push(signedRef, ocitest.Simple("g"))
	signed := s.sign(signedRef, key)
	if signed.Digest != signedD || signed.SignatureRef != host+"/sig/g:"+oci.SignatureTag(signedD) || signed.Signatures != 1 || signed.AlreadySigned || signed.InStore {
		t.Fatalf("Sign: %+v", signed)
	}
	if again := s.sign(signedRef, key); !again.AlreadySigned || again.Signatures != 1 {
		t.Fatalf("signing twice with one key: %+v", again)
	}

	unsignedD := s.push(host+"/sig/unsigned:v1", ocitest.Simple("unsigned"))

	// Another tag's signature copied to an unsigned image.
	v2 := ocitest.Simple("g")
	v2.Annotations = map[string]string{ocispec.AnnotationTitle: "g", ocispec.AnnotationVersion: "2"}
	v2D := s.push(host+"/sig/g:v2", v2)
	s.sign(host+"/sig/g:v2", key)
	v3 := ocitest.Simple("g")
	v3.Annotations = map[string]string{ocispec.AnnotationTitle: "g", ocispec.AnnotationVersion: "3"}
	v3D := s.push(host+"/sig/g:v3", v3)
	s.copySignature(host+"/sig/g:v3", v2D, v3D)

	// A signed image changed afterwards (the tag now names another manifest), its signature
	// copied along.
	changedRef := host + "/sig/changed:v1"
	origD := s.push(changedRef, ocitest.Simple("changed"))
	s.sign(changedRef, key)
	evil := ocitest.Simple("changed")
	evil.WASM = []byte("wasm, changed after signing")
	evilD := s.push(changedRef, evil)
	s.copySignature(changedRef, origD, evilD)

	storeWith := func(t *testing.T) *oci.Store {
		st := newStore(t)
		if _, err := ocitest.Push(ctx, st, "localhost/other/x:v1", ocitest.Simple("x")); err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, tc := range []struct {
		name, ref string
		keys      []*oci.PublicKey
		reason    oci.Failure
		want      string
	}{
		{"unsigned", host + "/sig/unsigned:v1", []*oci.PublicKey{trusted}, oci.Unsigned,
			"not signed: the registry has no signature for " + unsignedD.String() + " (no tag " + oci.SignatureTag(unsignedD) + "); sign it (gadgetry image sign, or cosign sign --key), or pass --verify-image=false to use it unverified"},
		{"another key", signedRef, []*oci.PublicKey{other}, oci.UntrustedKey,
			"signed, but not by a trusted key: its signature does not verify with the trusted key " + other.String() + "; trust the signer's public key (--public-keys, or publicKeys in the config file), or use an image signed by a trusted key"},
		{"another tag's signature", host + "/sig/g:v3", []*oci.PublicKey{other, trusted}, oci.OtherImage,
			"its signature is another image's: the trusted signature stored for " + v3D.String() + " signs " + v2D.String() + ", which tag v2 names; it was copied from there and this image is not signed: do not use it, and sign it if it is yours (gadgetry image sign)"},
		{"changed after signing", changedRef, []*oci.PublicKey{trusted}, oci.Changed,
			"the image was changed after it was signed: the trusted signature stored for " + evilD.String() + " signs " + origD.String() + ", which no tag names now; do not use it, and if the change is yours, sign the new image (gadgetry image sign)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storeWith(t)
			_, _, err := s.o.PullVerified(ctx, st, tc.ref, tc.keys)
			var ve *oci.VerifyError
			if !errors.As(err, &ve) || ve.Reason != tc.reason || !errors.Is(err, oci.ErrUnverified) {
				t.Fatalf("got %v, want a %s VerifyError", err, tc.reason)
			}
			if want := "verifying " + tc.ref + ": " + tc.want; err.Error() != want {
				t.Fatalf("got  %s\nwant %s", err, want)
			}
			if es, _ := st.List(ctx); len(es) != 1 {
				t.Fatalf("the failed pull changed the store: %v", es)
			}
		})
	}

	t.Run("signed", func(t *testing.T) {
		st := newStore(t)
		d, v, err := s.o.PullVerified(ctx, st, signedRef, []*oci.PublicKey{other, trusted})
		if err != nil || d.Digest != signedD || !v.Verified || v.KeyID != trusted.ID || v.KeySource != "team.pub" {
			t.Fatalf("PullVerified: %v %+v %v", d.Digest, v, err)
		}
		// The store holds the signature: the stored image verifies without the registry.
		r := &oci.Resolver{Store: st, Registry: &oci.Registry{AuthFile: emptyAuthFile(t)}, Keys: []*oci.PublicKey{trusted}}
		g, err := r.Resolve(ctx, signedRef, oci.PullNever, "amd64")
		if err != nil || g.Signature == nil || !g.Signature.Verified || g.Signature.KeyID != trusted.ID {
			t.Fatalf("Resolve from the store: %+v, %v", g, err)
		}
		// Signature tags are not listed as images.
		if es, _ := st.List(ctx); len(es) != 1 || es[0].Ref != signedRef {
			t.Fatalf("List: %v", es)
		}
		// Removing the image removes its signatures.
		if _, err := st.Remove(ctx, signedRef); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Resolve(ctx, host+"/sig/g:"+oci.SignatureTag(signedD)); err == nil {
			t.Fatal("the signature tag outlived the image")
		}
	})

	t.Run("signature deleted from the registry", func(t *testing.T) {
		st := newStore(t)
		ref := host + "/sig/withdrawn:v1"
		d := s.push(ref, ocitest.Simple("withdrawn"))
		s.sign(ref, key)
		if _, _, err := s.o.PullVerified(ctx, st, ref, []*oci.PublicKey{trusted}); err != nil {
			t.Fatal(err)
		}
		s.deleteSignature(ref, d)
		_, _, err := s.o.PullVerified(ctx, st, ref, []*oci.PublicKey{trusted})
		var ve *oci.VerifyError
		if !errors.As(err, &ve) || ve.Reason != oci.Withdrawn {
			t.Fatalf("got %v, want Withdrawn", err)
		}
		want := "verifying " + ref + ": its signature was deleted from the registry: the registry has no signature for " + d.String() + " (no tag " + oci.SignatureTag(d) + "), but the local store holds one from an earlier pull, by trusted key " + trusted.String() + "; the publisher may have withdrawn it: ask them before using the image"
		if err.Error() != want {
			t.Fatalf("got  %s\nwant %s", err, want)
		}
		// Without the store's memory of it, the same image is simply not signed.
		_, _, err = s.o.PullVerified(ctx, newStore(t), ref, []*oci.PublicKey{trusted})
		if !errors.As(err, &ve) || ve.Reason != oci.Unsigned {
			t.Fatalf("got %v, want Unsigned", err)
		}
		// A pull without keys mirrors the registry: the store forgets the signature.
		if _, err := s.o.Pull(ctx, st, ref); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Resolve(ctx, host+"/sig/withdrawn:"+oci.SignatureTag(d)); err == nil {
			t.Fatal("the store kept a signature the registry no longer has")
		}
	})
}

// Sign adds to the signatures already there (another key's) and stores them in the local
// store when it holds the image; the signature manifest has cosign's layout.
func TestSignLayout(t *testing.T) {
	s := newSignedRegistry(t)
	ctx := s.ctx
	a, pubA := testKey(t, "a")
	b, pubB := testKey(t, "b")
	ref := s.reg.Host + "/sig/layout:v1"
	st := newStore(t)
	root, err := ocitest.Push(ctx, st, ref, ocitest.Simple("layout"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.o.Push(ctx, st, ref); err != nil {
		t.Fatal(err)
	}
	s.sign(ref, a)
	signed, err := s.o.Sign(ctx, st, ref, b)
	if err != nil || signed.Signatures != 2 || !signed.InStore {
		t.Fatalf("second signature: %+v, %v", signed, err)
	}
	for _, k := range []*oci.PublicKey{pubA, pubB} {
		v, err := oci.VerifyImage(ctx, st, mustRef(t, ref), root.Digest, []*oci.PublicKey{k})
		if err != nil || v.Signatures != 2 || v.KeyID != k.ID {
			t.Fatalf("verifying the store's copy with %s: %+v, %v", k, v, err)
		}
	}

	repo, _ := s.repo(ref)
	desc, err := repo.Resolve(ctx, oci.SignatureTag(root.Digest))
	if err != nil {
		t.Fatal(err)
	}
	mb, err := content.FetchAll(ctx, repo, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.MediaType != ocispec.MediaTypeImageConfig || len(m.Layers) != 2 {
		t.Fatalf("signature manifest: %s", mb)
	}
	repoName := s.reg.Host + "/sig/layout"
	wantPayload := `{"critical":{"identity":{"docker-reference":"` + repoName + `"},"image":{"docker-manifest-digest":"` + root.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`
	for _, l := range m.Layers {
		if l.MediaType != oci.MediaTypeSimpleSigning || l.Annotations[oci.AnnotationSignature] == "" {
			t.Fatalf("signature layer: %+v", l)
		}
		p, err := content.FetchAll(ctx, repo, l)
		if err != nil || !bytes.Equal(p, []byte(wantPayload)) {
			t.Fatalf("payload %s, %v\nwant    %s", p, err, wantPayload)
		}
	}
	// The registry's tag list shows the signature tag; gadgetry's lists leave it out.
	tags, err := oci.Tags(ctx, repo)
	if err != nil || strings.Join(tags, ",") != "v1" {
		t.Fatalf("Tags: %v, %v", tags, err)
	}
}

// Export carries the signatures; after import into another store the image verifies with no
// registry at all.
func TestExportImportSignatures(t *testing.T) {
	s := newSignedRegistry(t)
	ctx := s.ctx
	key, trusted := testKey(t, "team")
	ref := s.reg.Host + "/sig/offline:v1"
	d := s.push(ref, ocitest.Simple("offline"))
	s.sign(ref, key)
	src := newStore(t)
	if _, _, err := s.o.PullVerified(ctx, src, ref, []*oci.PublicKey{trusted}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := oci.Export(ctx, src, []string{ref}, &buf); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	es, err := oci.Import(ctx, dst, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Ref)
	}
	if strings.Join(names, " ") != s.reg.Host+"/sig/offline:"+oci.SignatureTag(d)+" "+ref {
		t.Fatalf("imported %v", names)
	}
	// No registry: the resolver must not need one.
	r := &oci.Resolver{Store: dst, Registry: &oci.Registry{AuthFile: emptyAuthFile(t)}, Keys: []*oci.PublicKey{trusted}}
	g, err := r.Resolve(ctx, ref, oci.PullNever, "amd64")
	if err != nil || !g.Signature.Verified {
		t.Fatalf("verifying the imported image: %+v, %v", g, err)
	}
}
