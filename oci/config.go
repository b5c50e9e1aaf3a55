package oci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is Gadgetry's configuration file (docs/cli.md): settings that hold for every command
// unless an environment variable or a flag says otherwise.
//
//	# /etc/gadgetry/config.yaml
//	publicKeys:          # the trusted keys: images from registries must be signed by one
//	  - team.pub         # relative to the file's directory
//	  - /etc/keys/ci.pub
//	insecureRegistries: [localhost:5000]   # spoken to over plain HTTP
//	registryCA: ca.pem                      # extra CA certificates for registries
//	registryPrefix: ghcr.io/myorg/gadgets   # the registry prefix of bare gadget names
//	registryTimeout: 1m                     # how long a registry may keep gadgetry waiting
type Config struct {
	// Path is the file read ("" when there was none).
	Path string `yaml:"-"`
	// PublicKeys are PEM public key files (cosign.pub); a relative path is relative to the
	// configuration file's directory. --public-keys replaces them.
	PublicKeys []string `yaml:"publicKeys"`
	// InsecureRegistries are registries ("host:port") reached over plain HTTP.
	// --insecure-registries replaces them.
	InsecureRegistries []string `yaml:"insecureRegistries"`
	// RegistryCA is a PEM file of extra CA certificates for registries, relative to the
	// configuration file's directory. --registry-ca replaces it.
	RegistryCA string `yaml:"registryCA"`
	// RegistryPrefix is the registry prefix of bare gadget names. --registry-prefix replaces it.
	RegistryPrefix string `yaml:"registryPrefix"`
	// RegistryTimeout is Registry.Timeout (a Go duration: "45s", "2m"); zero when unset.
	// --registry-timeout replaces it.
	RegistryTimeout time.Duration `yaml:"-"`
	// RawRegistryTimeout is registryTimeout as written.
	RawRegistryTimeout string `yaml:"registryTimeout"`
}

// ConfigKeys are the keys a configuration file may hold.
var ConfigKeys = []string{"publicKeys", "insecureRegistries", "registryCA", "registryPrefix", "registryTimeout"}

// MaxConfigSize bounds the configuration file.
const MaxConfigSize = 1 << 20

// DefaultConfigFile is the configuration file used when $GADGETRY_CONFIG does not name one:
// /etc/gadgetry/config.yaml for root, $XDG_CONFIG_HOME/gadgetry/config.yaml (default
// ~/.config/gadgetry/config.yaml) for other users. It sits where the store's settings do:
// chosen by the user, system-wide for root.
func DefaultConfigFile() string {
	if p := os.Getenv("GADGETRY_CONFIG"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return "/etc/gadgetry/config.yaml"
	}
	return xdgPath("XDG_CONFIG_HOME", ".config", "gadgetry", "config.yaml")
}

// xdgPath joins elems to the XDG base directory $env, or to ~/home when $env is unset.
func xdgPath(env, home string, elems ...string) string {
	base := os.Getenv(env)
	if base == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			h = os.TempDir()
		}
		base = filepath.Join(h, home)
	}
	return filepath.Join(append([]string{base}, elems...)...)
}

// LoadConfig reads the configuration file at path. A missing file is an empty configuration;
// an unknown key, a value of the wrong kind or a second document is an error naming the line.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the configuration file: %w", err)
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("the configuration file %s is larger than %d bytes", path, MaxConfigSize)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the configuration file %s: %v", path, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the configuration file %s holds more than one YAML document", path)
	}
	c.Path = path
	if c.RawRegistryTimeout != "" {
		d, err := ParseTimeout(c.RawRegistryTimeout)
		if err != nil {
			return nil, fmt.Errorf("the configuration file %s: registryTimeout: %v", path, err)
		}
		c.RegistryTimeout = d
	}
	for i, h := range c.InsecureRegistries {
		if h == "" || strings.ContainsAny(h, "/ ") {
			return nil, fmt.Errorf("the configuration file %s: insecureRegistries[%d] is %q: want host or host:port", path, i, h)
		}
	}
	if c.RegistryCA != "" && !filepath.IsAbs(c.RegistryCA) {
		c.RegistryCA = filepath.Join(filepath.Dir(path), c.RegistryCA)
	}
	if c.RegistryPrefix != "" {
		if _, err := ParseReferenceWithPrefix("x", c.RegistryPrefix); err != nil {
			return nil, fmt.Errorf("the configuration file %s: registryPrefix %q: %v", path, c.RegistryPrefix, err)
		}
	}
	for i, k := range c.PublicKeys {
		if k == "" {
			return nil, fmt.Errorf("the configuration file %s: publicKeys[%d] is empty", path, i)
		}
		if !filepath.IsAbs(k) {
			c.PublicKeys[i] = filepath.Join(filepath.Dir(path), k)
		}
	}
	return c, nil
}

// unknownFieldRE matches yaml.v3's message for a key the struct lacks.
var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type oci\.Config$`)

// ParseTimeout reads a registry timeout: a Go duration ("30s", "2m") or a number of seconds,
// more than zero.
func ParseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return 0, fmt.Errorf("%q is not a duration (like 30s or 2m) or a number of seconds", s)
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: the timeout must be more than zero", s)
	}
	return d, nil
}

// yamlMessage drops yaml.v3's "yaml: unmarshal errors:\n  " framing and says an unknown key in
// words.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var msgs []string
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("line %s: unknown key %q (%sthe file knows %s)", m[1], m[2], didYouMean(m[2], ConfigKeys), strings.Join(ConfigKeys, ", "))
		}
		msgs = append(msgs, e)
	}
	return strings.Join(msgs, "; ")
}

// didYouMean returns "did you mean K? " for the known key K nearest to key (case aside, at
// most three edits away), else "".
func didYouMean(key string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return "did you mean " + best + "? "
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
