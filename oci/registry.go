package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	tr := http.DefaultTransport.(*http.Transport).Clone()
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
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}, nil
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
// normalized reference. Nothing is written to the store unless the whole image is fetched,
// verified and valid.
func (o *Registry) Pull(ctx context.Context, store *Store, ref string) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	repo, err := o.Repository(r)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d, err := Copy(ctx, repo, r.Object(), store, r.String())
	if err != nil {
		return d, fmt.Errorf("pulling %s: %w", r, Explain(repo, err))
	}
	return d, nil
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
	d, err := Copy(ctx, store, r.String(), repo, r.Object())
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
			return fmt.Errorf("logging in to %s: %w", registry, &explained{fmt.Sprintf("the registry refused user %q with this password (401 unauthorized)", user), err})
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
