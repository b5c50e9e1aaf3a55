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
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is Gadgetry's configuration file (docs/signing.md): settings that hold for every
// command unless a flag says otherwise.
//
//	# /etc/gadgetry/config.yaml
//	publicKeys:          # the trusted keys: images from registries must be signed by one
//	  - team.pub         # relative to the file's directory
//	  - /etc/keys/ci.pub
type Config struct {
	// Path is the file read ("" when there was none).
	Path string `yaml:"-"`
	// PublicKeys are PEM public key files (cosign.pub); a relative path is relative to the
	// configuration file's directory. --public-keys replaces them.
	PublicKeys []string `yaml:"publicKeys"`
}

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
			e = fmt.Sprintf("line %s: unknown key %q (the file knows publicKeys)", m[1], m[2])
		}
		msgs = append(msgs, e)
	}
	return strings.Join(msgs, "; ")
}
