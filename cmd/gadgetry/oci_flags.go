package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/oci"
)

// The environment variables that set what the registry flags set (docs/cli.md). A flag wins
// over its variable, a variable over the configuration file.
const (
	envStore              = "GADGETRY_STORE"
	envInsecureRegistries = "GADGETRY_INSECURE_REGISTRIES"
	envRegistryCA         = "GADGETRY_REGISTRY_CA"
	envRegistryPrefix     = "GADGETRY_REGISTRY_PREFIX"
	envRegistryTimeout    = "GADGETRY_REGISTRY_TIMEOUT"
	envPublicKeys         = "GADGETRY_PUBLIC_KEYS"
)

// ociFlags are the flags of every command that touches images: where the local store is and
// how to reach registries. `image` binds them as persistent flags; `run` binds the same;
// `login` and `logout` bind the registry ones only.
type ociFlags struct {
	fs         *pflag.FlagSet
	store      string
	authFile   string
	caFile     string
	prefix     string
	insecure   []string
	skipVerify bool
	timeout    string

	config    *oci.Config
	configErr error
}

// bindOCIFlags defines --store, --registry-prefix and the registry flags (bindRegistryFlags)
// on fs.
func bindOCIFlags(fs *pflag.FlagSet) *ociFlags {
	f := bindRegistryFlags(fs)
	fs.StringVar(&f.store, "store", "", "local image store directory (default $"+envStore+", else "+oci.DefaultStoreDir()+")")
	fs.StringVar(&f.prefix, "registry-prefix", "", "registry prefix of bare gadget names (default $"+envRegistryPrefix+", else registryPrefix of the config file, else "+oci.DefaultPrefix+")")
	return f
}

// bindRegistryFlags defines --authfile, --insecure-registries, --registry-ca, --insecure and
// --registry-timeout on fs.
func bindRegistryFlags(fs *pflag.FlagSet) *ociFlags {
	f := &ociFlags{fs: fs}
	fs.StringVar(&f.authFile, "authfile", "", "Docker config file with registry credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	fs.StringSliceVar(&f.insecure, "insecure-registries", nil, "registries (host:port) to reach over plain HTTP (default $"+envInsecureRegistries+", else insecureRegistries of the config file)")
	fs.StringVar(&f.caFile, "registry-ca", "", "PEM file of extra CA certificates to trust for registries (default $"+envRegistryCA+", else registryCA of the config file)")
	fs.BoolVar(&f.skipVerify, "insecure", false, "accept any certificate from HTTPS registries (encrypted, but the registry is not authenticated)")
	fs.StringVar(&f.timeout, "registry-timeout", "", fmt.Sprintf("how long a registry may keep gadgetry waiting at each step: connecting, TLS handshake, an answer, the next bytes (a duration like 45s; default $%s, else registryTimeout of the config file, else %s)", envRegistryTimeout, oci.DefaultTimeout))
	return f
}

// set reports whether the flag name was given on the command line.
func (f *ociFlags) set(name string) bool {
	if f.fs == nil {
		return false
	}
	fl := f.fs.Lookup(name)
	return fl != nil && fl.Changed
}

// loadConfig reads the configuration file once.
func (f *ociFlags) loadConfig() (*oci.Config, error) {
	if f.config == nil && f.configErr == nil {
		f.config, f.configErr = oci.LoadConfig(oci.DefaultConfigFile())
	}
	return f.config, f.configErr
}

// storeDir returns the store directory: --store, $GADGETRY_STORE, or the default.
func (f *ociFlags) storeDir() string {
	if f.store != "" {
		return f.store
	}
	if d := os.Getenv(envStore); d != "" {
		return d
	}
	return oci.DefaultStoreDir()
}

// openStore opens the local store.
func (f *ociFlags) openStore() (*oci.Store, error) {
	s, err := oci.OpenStore(f.storeDir())
	if err != nil {
		return nil, fmt.Errorf("%w (choose another store with --store or $%s)", err, envStore)
	}
	return s, nil
}

// defaultPrefix returns the registry prefix of bare names: --registry-prefix,
// $GADGETRY_REGISTRY_PREFIX, registryPrefix of the config file, or oci.DefaultPrefix.
func (f *ociFlags) defaultPrefix() (string, error) {
	if f.prefix != "" {
		return f.prefix, nil
	}
	if p := os.Getenv(envRegistryPrefix); p != "" {
		return p, nil
	}
	c, err := f.loadConfig()
	if err != nil {
		return "", err
	}
	if c.RegistryPrefix != "" {
		return c.RegistryPrefix, nil
	}
	return oci.DefaultPrefix, nil
}

// parseRef normalizes a reference with the configured prefix.
func (f *ociFlags) parseRef(s string) (oci.Reference, error) {
	p, err := f.defaultPrefix()
	if err != nil {
		return oci.Reference{}, err
	}
	return oci.ParseReferenceWithPrefix(s, p)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// registry returns how to reach registries: each setting from its flag, else its environment
// variable, else the configuration file. On a terminal, pulls and pushes show their progress
// on stderr.
func (f *ociFlags) registry() (*oci.Registry, error) {
	c, err := f.loadConfig()
	if err != nil {
		return nil, err
	}
	r := &oci.Registry{AuthFile: f.authFile, SkipTLSVerify: f.skipVerify}
	switch v, ok := os.LookupEnv(envInsecureRegistries); {
	case f.set("insecure-registries"):
		r.Insecure = f.insecure
	case ok:
		r.Insecure = splitList(v)
	default:
		r.Insecure = c.InsecureRegistries
	}
	switch v := os.Getenv(envRegistryCA); {
	case f.caFile != "":
		r.CAFile = f.caFile
	case v != "":
		r.CAFile = v
	default:
		r.CAFile = c.RegistryCA
	}
	switch v := os.Getenv(envRegistryTimeout); {
	case f.timeout != "":
		if r.Timeout, err = oci.ParseTimeout(f.timeout); err != nil {
			return nil, fmt.Errorf("--registry-timeout: %w", err)
		}
	case v != "":
		if r.Timeout, err = oci.ParseTimeout(v); err != nil {
			return nil, fmt.Errorf("$%s: %w", envRegistryTimeout, err)
		}
	default:
		r.Timeout = c.RegistryTimeout
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		r.Progress = newProgressLine(os.Stderr).show
	}
	return r, nil
}

// resolver returns the catalogue → store → registry resolver (catalogue may be nil).
func (f *ociFlags) resolver(catalogue oras.ReadOnlyTarget) (*oci.Resolver, error) {
	s, err := f.openStore()
	if err != nil {
		return nil, err
	}
	reg, err := f.registry()
	if err != nil {
		return nil, err
	}
	prefix, err := f.defaultPrefix()
	if err != nil {
		return nil, err
	}
	return &oci.Resolver{Catalogue: catalogue, Store: s, Registry: reg, DefaultPrefix: prefix}, nil
}

// outputFormat is the -o flag of the image commands that print something to read.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "columns|json|yaml" }
func (o *outputFormat) Set(s string) error {
	switch s {
	case "columns", "json", "yaml":
		*o = outputFormat(s)
		return nil
	}
	return fmt.Errorf("want columns, json or yaml, not %q", s)
}

// bindOutput defines -o on fs.
func bindOutput(fs *pflag.FlagSet) *outputFormat {
	o := outputFormat("columns")
	fs.VarP(&o, "output", "o", "output format: columns, json or yaml")
	return &o
}

// print writes v as JSON or YAML (the same keys: YAML is made from the JSON) and reports
// true, or reports false for columns (the caller prints those).
func (o outputFormat) print(w io.Writer, v any) (bool, error) {
	switch o {
	case "json":
		return true, printJSON(w, v)
	case "yaml":
		return true, printYAML(w, v)
	}
	return false, nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printYAML writes v as YAML with the keys and order of its JSON.
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns JSON's flow style into YAML's block style, keeping strings quoted only
// where YAML needs it.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
