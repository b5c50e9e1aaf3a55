package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Registry holds how to reach remote registries: credentials, plain-HTTP hosts and extra CAs.
// Its zero value uses the Docker config file and HTTPS with the system's CAs.
type Registry struct {
	// AuthFile is the Docker config file (config.json) holding credentials; empty means
	// $DOCKER_CONFIG/config.json or ~/.docker/config.json.
	AuthFile string
	// Insecure lists registries ("host:port") spoken to over plain HTTP.
	Insecure []string
	// CAFile is a PEM file of extra CA certificates to trust (e.g. a private registry's).
	CAFile string
	// SkipTLSVerify accepts any certificate from HTTPS registries (oras's --insecure): the
	// connection is encrypted but the registry is not authenticated.
	SkipTLSVerify bool
	// Timeout bounds each wait on a registry: connecting, the TLS handshake, the answer to
	// a request, and the silence between the bytes of a request or an answer. Zero means
	// DefaultTimeout. A timeout is a *TimeoutError naming the host and the step.
	Timeout time.Duration
	// Progress, when set, is told how far each Pull and Push has got (often: throttle the
	// display), ending with a report whose Done is true.
	Progress func(Transfer)
}

// CredentialsFile is the Docker config file credentials are read from: AuthFile, else
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json (where oras's Docker store looks).
func (o *Registry) CredentialsFile() string {
	if o.AuthFile != "" {
		return o.AuthFile
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	return filepath.Join(dir, "config.json")
}

// credentialStore opens the credential file.
func (o *Registry) credentialStore() (credentials.Store, error) {
	opts := credentials.StoreOptions{AllowPlaintextPut: true}
	var st *credentials.DynamicStore
	var err error
	if o.AuthFile != "" {
		st, err = credentials.NewStore(o.AuthFile, opts)
	} else {
		st, err = credentials.NewStoreFromDocker(opts)
	}
	if err != nil {
		where := o.AuthFile
		if where == "" {
			where = "the Docker config file"
		}
		return nil, fmt.Errorf("reading credentials from %s: %w", where, err)
	}
	return st, nil
}

func (o *Registry) httpClient() (*http.Client, error) {
	cfg := &tls.Config{InsecureSkipVerify: o.SkipTLSVerify}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the registry CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Transport: newTransport(cfg, o.Timeout)}, nil
}

func (o *Registry) client() (*auth.Client, error) {
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	cs, err := o.credentialStore()
	if err != nil {
		return nil, err
	}
	c := &auth.Client{Client: hc, Cache: auth.NewCache(), Credential: credentials.Credential(cs)}
	c.SetUserAgent("gadgetry")
	return c, nil
}

func (o *Registry) plainHTTP(host string) bool {
	return slices.Contains(o.Insecure, host)
}

// Repository returns the remote repository of ref, ready to be a Copy source or destination.
func (o *Registry) Repository(ref Reference) (*remote.Repository, error) {
	repo, err := remote.NewRepository(ref.RepositoryName())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	repo.PlainHTTP = o.plainHTTP(ref.Registry)
	if repo.Client, err = o.client(); err != nil {
		return nil, err
	}
	return repo, nil
}

// Pull copies the image ref names from its registry into the store, tagged with the
// normalized reference, with its signatures (PullVerified without keys).
func (o *Registry) Pull(ctx context.Context, store *Store, ref string) (ocispec.Descriptor, error) {
	d, _, err := o.PullVerified(ctx, store, ref, nil)
	return d, err
}

// PullVerified copies the image ref names from its registry into the store, tagged with the
// normalized reference, and its signatures (the registry's sha256-<hex>.sig of the image's
// digest; when the registry has none, the store keeps none either). With keys, one of them
// must verify a signature of the image's digest (VerifyImage), else the error is a
// *VerifyError; the Verification says which key did. Nothing is written to the store unless
// the whole image is fetched, verified and valid.
func (o *Registry) PullVerified(ctx context.Context, store *Store, ref string, keys []*PublicKey) (ocispec.Descriptor, *Verification, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	repo, err := o.Repository(r)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	tr := newTracker(o.Progress, r.String(), false)
	staged, root, err := stage(ctx, repo, r.Object(), tr)
	tr.done()
	if err != nil {
		return root, nil, fmt.Errorf("pulling %s: %w", r, Explain(repo, err))
	}
	set, err := fetchSignatures(ctx, repo, SignatureTag(root.Digest))
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return root, nil, fmt.Errorf("pulling %s: reading its signatures (%s): %w", r, SignatureTag(root.Digest), Explain(repo, err))
	}
	var v *Verification
	if len(keys) > 0 {
		if v, err = verifyPulled(ctx, repo, store, r, root.Digest, set, keys); err != nil {
			return root, nil, fmt.Errorf("verifying %s: %w", r, Explain(repo, err))
		}
	}
	sigRef := signatureRef(store, r, root.Digest)
	err = store.holdForCopy(func() error {
		if err := oras.CopyGraph(ctx, staged, store, root, oras.DefaultCopyGraphOptions); err != nil {
			return copyCause(err)
		}
		if set == nil {
			if err := store.untag(sigRef); err != nil {
				return err
			}
		} else if err := set.writeTo(ctx, store, sigRef); err != nil {
			return err
		}
		return store.Tag(ctx, root, r.String())
	})
	if err != nil {
		return root, nil, fmt.Errorf("pulling %s: writing to the local store: %w", r, err)
	}
	return root, v, nil
}

// verifyPulled checks the signatures set the registry has for the image with digest d
// against keys. When the registry has none but store holds a signature of d that a trusted
// key verifies (from an earlier pull), the signature was deleted from the registry: that is
// said rather than "not signed".
func verifyPulled(ctx context.Context, repo *remote.Repository, store *Store, r Reference, d digest.Digest, set *signatureSet, keys []*PublicKey) (*Verification, error) {
	v := check(ctx, repo, r, d, set, keys)
	if v.Verified {
		return v, nil
	}
	if v.err.Reason == Unsigned && store != nil {
		if sv, err := CheckSignatures(ctx, store, r, d, keys); err == nil && sv.Verified {
			return nil, &VerifyError{Reason: Withdrawn, msg: fmt.Sprintf("its signature was deleted from the registry: the registry has no signature for %s (no tag %s), but the local store holds one from an earlier pull, by trusted key %s; the publisher may have withdrawn it: ask them before using the image",
				d, SignatureTag(d), (&PublicKey{ID: sv.KeyID, Source: sv.KeySource}).String())}
		}
	}
	return nil, v.err
}

// Push copies the image ref names in the store to its registry.
func (o *Registry) Push(ctx context.Context, store *Store, ref string) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	repo, err := o.Repository(r)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	tr := newTracker(o.Progress, r.String(), true)
	d, err := copyImage(ctx, store, r.String(), repo, r.Object(), tr)
	tr.done()
	if err != nil {
		return d, fmt.Errorf("pushing %s: %w", r, Explain(repo, err))
	}
	return d, nil
}

// Login checks user and password against registry ("host[:port]") and saves them in the
// credential file.
func (o *Registry) Login(ctx context.Context, registry, user, password string) error {
	reg, err := remote.NewRegistry(registry)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	reg.PlainHTTP = o.plainHTTP(registry)
	c, err := o.client()
	if err != nil {
		return err
	}
	c.Credential = nil
	c.Cache = nil
	reg.Client = c
	cs, err := o.credentialStore()
	if err != nil {
		return err
	}
	if err := credentials.Login(ctx, cs, reg, auth.Credential{Username: user, Password: password}); err != nil {
		var er *errcode.ErrorResponse
		if errors.As(err, &er) && er.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("logging in to %s: %w", registry, &explained{fmt.Sprintf("wrong user name or password for %s (user %q was refused: 401 unauthorized)", registry, user), err})
		}
		return fmt.Errorf("logging in to %s: %w", registry, explain(Reference{Registry: registry}, reg.PlainHTTP, err))
	}
	return nil
}

// Logout removes the saved credentials of registry.
func (o *Registry) Logout(ctx context.Context, registry string) error {
	cs, err := o.credentialStore()
	if err != nil {
		return err
	}
	return credentials.Logout(ctx, cs, registry)
}
