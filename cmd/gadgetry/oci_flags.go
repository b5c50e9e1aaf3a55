package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/oci"
)

// ociFlags are the flags of every command that touches images: where the local store is and
// how to reach registries. `image` binds them as persistent flags; `run` can bind the same.
type ociFlags struct {
	store    string
	authFile string
	caFile   string
	prefix   string
	insecure []string
}

// bindOCIFlags defines --store, --authfile, --insecure-registries, --registry-ca and
// --registry-prefix on fs.
func bindOCIFlags(fs *pflag.FlagSet) *ociFlags {
	f := &ociFlags{}
	fs.StringVar(&f.store, "store", "", "local image store directory (default $GADGETRY_STORE, else "+oci.DefaultStoreDir()+")")
	fs.StringVar(&f.authFile, "authfile", "", "Docker config file with registry credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	fs.StringSliceVar(&f.insecure, "insecure-registries", nil, "registries (host:port) to reach over plain HTTP")
	fs.StringVar(&f.caFile, "registry-ca", "", "PEM file of extra CA certificates to trust for registries")
	fs.StringVar(&f.prefix, "registry-prefix", "", "registry prefix of bare gadget names (default $GADGETRY_REGISTRY_PREFIX, else "+oci.DefaultPrefix+")")
	return f
}

// storeDir returns the store directory: --store, $GADGETRY_STORE, or the default.
func (f *ociFlags) storeDir() string {
	if f.store != "" {
		return f.store
	}
	if d := os.Getenv("GADGETRY_STORE"); d != "" {
		return d
	}
	return oci.DefaultStoreDir()
}

// openStore opens the local store.
func (f *ociFlags) openStore() (*oci.Store, error) {
	s, err := oci.OpenStore(f.storeDir())
	if err != nil {
		return nil, fmt.Errorf("%w (choose another store with --store or $GADGETRY_STORE)", err)
	}
	return s, nil
}

// defaultPrefix returns the registry prefix of bare names.
func (f *ociFlags) defaultPrefix() string {
	if f.prefix != "" {
		return f.prefix
	}
	if p := os.Getenv("GADGETRY_REGISTRY_PREFIX"); p != "" {
		return p
	}
	return oci.DefaultPrefix
}

// parseRef normalizes a reference with the configured prefix.
func (f *ociFlags) parseRef(s string) (oci.Reference, error) {
	return oci.ParseReferenceWithPrefix(s, f.defaultPrefix())
}

// registry returns how to reach registries.
func (f *ociFlags) registry() *oci.Registry {
	return &oci.Registry{AuthFile: f.authFile, Insecure: f.insecure, CAFile: f.caFile}
}

// resolver returns the catalogue → store → registry resolver (catalogue may be nil).
func (f *ociFlags) resolver(catalogue oras.ReadOnlyTarget) (*oci.Resolver, error) {
	s, err := f.openStore()
	if err != nil {
		return nil, err
	}
	return &oci.Resolver{Catalogue: catalogue, Store: s, Registry: f.registry(), DefaultPrefix: f.defaultPrefix()}, nil
}

// outputFormat is the -o flag of the image commands.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "columns|json" }
func (o *outputFormat) Set(s string) error {
	switch s {
	case "columns", "json":
		*o = outputFormat(s)
		return nil
	}
	return fmt.Errorf("want columns or json, not %q", s)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
