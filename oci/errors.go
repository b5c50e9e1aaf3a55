package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// How errors of this package read: a function that is given a reference does not repeat it;
// its caller names the operation and the image once ("pulling REF: ..."), and the message
// goes on with what is wrong and what to do, in words. Errors of the libraries underneath stay
// in the chain (errors.Is, errors.As) without being printed again when the words say it all.

// explained reads as msg and unwraps to the error it explains.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// notFoundError is an ErrNotFound whose message says where the reference was looked for and
// what is there instead.
type notFoundError struct{ explained }

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// RefName returns the reference a user knows for ref in src: the registry and repository of a
// remote repository with ref as its tag or digest, ref itself for other sources (the local
// store and the built-in catalogue are addressed by full references and bare names).
func RefName(src any, ref string) string {
	repo, ok := src.(*remote.Repository)
	if !ok {
		return ref
	}
	r := Reference{Registry: repo.Reference.Registry, Repository: repo.Reference.Repository, Tag: ref}
	if _, err := digest.Parse(ref); err == nil {
		r.Tag, r.Digest = "", ref
	}
	return r.String()
}

// NotFound turns a failed Resolve of ref in src into an error that lists the tags src has
// (of ref's repository, when src holds many), when it can; it wraps ErrNotFound. Other
// failures are returned as they are.
func NotFound(ctx context.Context, src oras.ReadOnlyTarget, ref string, err error) error {
	return notFound(ctx, src, ref, err)
}

// notFound turns a failed Resolve of ref in src into an error that lists the tags src has,
// when it can. Other failures are returned as they are.
func notFound(ctx context.Context, src oras.ReadOnlyTarget, ref string, err error) error {
	if !errors.Is(err, errdef.ErrNotFound) {
		return err
	}
	tags, terr := Tags(ctx, src)
	if r, err := ParseReference(ref); err == nil {
		// In a store holding many repositories, the tags of the same repository matter.
		var same []string
		for _, t := range tags {
			if tr, err := ParseReference(t); err == nil && tr.RepositoryName() == r.RepositoryName() {
				same = append(same, t)
			}
		}
		if len(same) > 0 {
			tags = same
		}
	}
	what, none := "not found", "there are no images there at all"
	switch src.(type) {
	case *remote.Repository:
		what, none = "no such tag", "the repository has no tags"
		if _, err := digest.Parse(ref); err == nil {
			what = "no manifest with this digest"
		}
	case *Store:
		what, none = "not in the local store", "the store is empty"
	}
	var er *errcode.ErrorResponse
	var msg string
	switch {
	case terr != nil && errors.As(terr, &er) && er.StatusCode == http.StatusNotFound:
		msg = "no such repository in the registry"
	case terr != nil:
		msg = fmt.Sprintf("%s (listing the available tags failed too: %v)", what, terr)
	case len(tags) == 0:
		msg = fmt.Sprintf("%s (%s)", what, none)
	default:
		msg = fmt.Sprintf("%s (available: %s)", what, strings.Join(tags, ", "))
	}
	return &notFoundError{explained{msg, err}}
}

// blobKind names a blob by its media type, for messages.
func blobKind(d ocispec.Descriptor) string {
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		return "index"
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return "manifest"
	case MediaTypeMetadata:
		return "gadget.yaml"
	case MediaTypeEBPF, MediaTypeWASM, MediaTypeBTFGen:
		return "layer"
	}
	return "blob"
}

// isCorrupt reports whether err says content does not match its descriptor.
func isCorrupt(err error) bool {
	return errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrInvalidDescriptorSize) || errors.Is(err, content.ErrTrailingData)
}

// corruptError says that a blob does not match its descriptor, and what to do.
type corruptError struct{ error }

func (e *corruptError) Unwrap() error { return e.error }

// corrupt says that blob d read from src does not match its descriptor (cause), and what to do.
func corrupt(src any, d ocispec.Descriptor, cause error) error {
	if t, ok := src.(tracked); ok {
		src = t.ReadOnlyStorage
	}
	var what string
	switch s := src.(type) {
	case *Store:
		what = "the local store's copy is corrupt or was tampered with; remove the image (gadgetry image rm) and pull it again"
	case *remote.Repository:
		what = fmt.Sprintf("registry %s serves a corrupt or tampered copy; push the image to it again", s.Reference.Registry)
	default:
		what = "the content is corrupt or was tampered with"
	}
	return &corruptError{fmt.Errorf("%s %s does not match its descriptor (%w): %s", blobKind(d), d.Digest, cause, what)}
}

// checkedSource is a copy source whose blobs, when their bytes do not match their
// descriptor, fail with corrupt's error, which names the blob (oras's own check does not).
type checkedSource struct {
	content.ReadOnlyStorage
}

func (c checkedSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.ReadOnlyStorage.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return &checkedReader{ReadCloser: rc, vr: content.NewVerifyReader(rc, d), d: d, src: c.ReadOnlyStorage}, nil
}

type checkedReader struct {
	io.ReadCloser
	vr  *content.VerifyReader
	d   ocispec.Descriptor
	src any
}

func (r *checkedReader) Read(p []byte) (int, error) {
	n, err := r.vr.Read(p)
	if err == io.EOF {
		if verr := r.vr.Verify(); verr != nil {
			return n, corrupt(r.src, r.d, verr)
		}
	}
	return n, err
}

// copyCause returns what an oras copy error is about, without oras's framing ("failed to
// perform ...", "read failed: ...").
func copyCause(err error) error {
	var bad *corruptError
	if errors.As(err, &bad) {
		return bad
	}
	var ce *oras.CopyError
	if errors.As(err, &ce) && ce.Err != nil {
		return ce.Err
	}
	return err
}

// place names a copy destination for messages.
func place(dst any) string {
	switch d := dst.(type) {
	case *Store:
		return "the local store"
	case *remote.Repository:
		return "registry " + d.Reference.Registry
	}
	return "the destination"
}

// Explain says what went wrong, and what to do, for an error of reading from src when src is
// a remote repository (Registry.Repository): missing or refused credentials, a plain-HTTP
// registry, an untrusted certificate, a registry that cannot be reached. Other errors are
// returned unchanged.
func Explain(src any, err error) error {
	repo, ok := src.(*remote.Repository)
	if !ok || err == nil {
		return err
	}
	r := Reference{Registry: repo.Reference.Registry, Repository: repo.Reference.Repository}
	return explain(r, repo.PlainHTTP, err)
}

// explain adds what to do to the errors users meet talking to registry r.Registry (reached over
// plain HTTP when plainHTTP). The message replaces the library's, which stays in the chain.
func explain(r Reference, plainHTTP bool, err error) error {
	var er *errcode.ErrorResponse
	var op *net.OpError
	var cv *tls.CertificateVerificationError
	var te *TimeoutError
	var st *speaksTLSError
	host := r.Registry
	creds := fmt.Sprintf("run `gadgetry login %s` or pass --authfile with a Docker config file that has them", host)
	var msg string
	switch {
	case errors.As(err, &te):
		msg = te.Error()
	case errors.As(err, &st):
		msg = st.Error()
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		msg = fmt.Sprintf("registry %s requires credentials and none are saved for it; %s", host, creds)
	case errors.As(err, &er) && er.StatusCode == http.StatusUnauthorized:
		msg = fmt.Sprintf("wrong user name or password for %s (the registry refused the saved credentials: 401 unauthorized); run `gadgetry login %s` again, or pass --authfile with a Docker config file that has the right ones", host, host)
	case errors.As(err, &er) && er.StatusCode == http.StatusForbidden:
		msg = fmt.Sprintf("registry %s denied access (403 forbidden): the account lacks permission on %s", host, r.Repository)
		if r.Repository == "" {
			msg = fmt.Sprintf("registry %s denied access (403 forbidden) to this account", host)
		}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		msg = fmt.Sprintf("registry %s speaks plain HTTP; pass --insecure-registries %s to allow it", host, host)
	case errors.As(err, &cv):
		msg = fmt.Sprintf("registry %s has a certificate this machine does not trust (%v); pass --registry-ca FILE with its CA, or --insecure to skip the check", host, cv.Err)
	case strings.Contains(err.Error(), "tls: first record does not look like a TLS handshake"):
		msg = fmt.Sprintf("registry %s speaks plain HTTP; pass --insecure-registries %s to allow it", host, host)
	case strings.Contains(err.Error(), "x509:"):
		msg = fmt.Sprintf("registry %s has a certificate this machine does not trust (%v); pass --registry-ca FILE with its CA, or --insecure to skip the check", host, err)
	case errors.As(err, &op) && op.Op == "dial":
		msg = fmt.Sprintf("cannot reach registry %s: %v; is it running and is the address right?", host, op.Err)
		if _, _, perr := net.SplitHostPort(host); perr != nil && !plainHTTP {
			// Without a port the scheme chooses it: 443 for HTTPS, 80 for plain HTTP.
			msg += " (for a plain-HTTP registry on port 80 pass --insecure-registries " + host + ")"
		}
	default:
		return err
	}
	return &explained{msg, err}
}
