package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SpecFile is the optional file in a gadget directory that names other sources.
const SpecFile = "build.yaml"

// Spec says where a gadget's sources are, as paths relative to the gadget directory. It is
// read from build.yaml; every key is optional:
//
//	ebpfsource: program.bpf.c   # the eBPF C source
//	wasm: go                    # a Go module directory, a prebuilt .wasm file, or (as in
//	                            # Inspektor Gadget's build.yaml) a source file to compile:
//	                            # go/program.go (Go) or rust/src/lib.rs (Rust, with cargo)
//	wasm-toolchain: tinygo      # go (the default) or tinygo, for a Go module directory
//	metadata: gadget.yaml       # the metadata file stored as the image config
//	cflags: -DFOO -DBAR=1       # extra clang flags (a string or a list)
//	btfgen: btf-{arch}.tar.gz   # prebuilt minimized-BTF archives, the btfgen layer; {arch}
//	                            # becomes amd64 or arm64 (without it, one file for all)
type Spec struct {
	// EBPFSource is the eBPF C source.
	EBPFSource string
	// WASMDir is the Go module directory built into the WASM module; empty for none.
	WASMDir string
	// WASMFile is a prebuilt WASM module; empty for none.
	WASMFile string
	// WASMGoFile is a Go source file built into the WASM module the way Inspektor Gadget's
	// builder builds `wasm: go/program.go`: `go build` of that file in its directory's module;
	// empty for none.
	WASMGoFile string
	// WASMRustFile is a Rust source file (rust/src/lib.rs) of a cargo package whose Cargo.toml
	// is in the file's parent's parent directory, built with cargo for wasm32-wasip1; empty
	// for none.
	WASMRustFile string
	// WASMToolchain is ToolchainGo or ToolchainTinyGo; empty for the default.
	WASMToolchain string
	// Metadata is the gadget.yaml file; empty when the image has no metadata.
	Metadata string
	// CFlags are extra clang flags.
	CFlags []string
	// BTFGen is a prebuilt minimized-BTF archive, with "{arch}" standing for the architecture;
	// empty for none.
	BTFGen string
}

// specFile is build.yaml as written.
type specFile struct {
	EBPFSource string    `yaml:"ebpfsource"`
	WASM       string    `yaml:"wasm"`
	WASMTC     string    `yaml:"wasm-toolchain"`
	Metadata   string    `yaml:"metadata"`
	CFlags     yaml.Node `yaml:"cflags"`
	BTFGen     string    `yaml:"btfgen"`
}

// ArchPlaceholder in Spec.BTFGen stands for the architecture ("amd64", "arm64").
const ArchPlaceholder = "{arch}"

// BTFGenFor returns the btfgen archive path for arch; empty when there is none.
func (s Spec) BTFGenFor(arch string) string {
	return strings.ReplaceAll(s.BTFGen, ArchPlaceholder, arch)
}

var knownSpecKeys = map[string]bool{"ebpfsource": true, "wasm": true, "wasm-toolchain": true, "metadata": true, "cflags": true, "btfgen": true}

// LoadSpec reads dir/build.yaml when it exists and fills in the defaults: program.bpf.c,
// go/ when that directory exists, gadget.yaml when that file exists. Unknown keys are reported
// on warn and otherwise ignored. Every path named explicitly must exist.
func LoadSpec(dir string, warn io.Writer) (Spec, error) {
	if warn == nil {
		warn = io.Discard
	}
	var f specFile
	explicit := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(dir, SpecFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Spec{}, fmt.Errorf("reading %s: %w", SpecFile, err)
	default:
		var raw map[string]yaml.Node
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return Spec{}, fmt.Errorf("parsing %s: %w", SpecFile, err)
		}
		var unknown []string
		for k := range raw {
			if knownSpecKeys[k] {
				explicit[k] = true
			} else {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			fmt.Fprintf(warn, "warning: %s: unknown key %q ignored (known: btfgen, cflags, ebpfsource, metadata, wasm, wasm-toolchain)\n", SpecFile, k)
		}
		if err := yaml.Unmarshal(data, &f); err != nil {
			return Spec{}, fmt.Errorf("parsing %s: %w", SpecFile, err)
		}
	}

	var s Spec
	where := func(key string) string {
		if explicit[key] {
			return fmt.Sprintf(" (named by %s key %q)", SpecFile, key)
		}
		return ""
	}

	s.EBPFSource = "program.bpf.c"
	if f.EBPFSource != "" {
		s.EBPFSource = filepath.Clean(f.EBPFSource)
	}
	if fi, err := os.Stat(filepath.Join(dir, s.EBPFSource)); err != nil || fi.IsDir() {
		return Spec{}, fmt.Errorf("no eBPF source: %s not found in %s%s; write it, or name another file with `ebpfsource:` in %s", s.EBPFSource, dir, where("ebpfsource"), SpecFile)
	}

	if f.WASM != "" {
		p := filepath.Clean(f.WASM)
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			return Spec{}, fmt.Errorf("WASM source %s%s: %w", p, where("wasm"), err)
		}
		switch {
		case fi.IsDir():
			s.WASMDir = p
		case strings.HasSuffix(p, ".go"):
			s.WASMGoFile = p
		case strings.HasSuffix(p, ".rs"):
			s.WASMRustFile = p
		default:
			s.WASMFile = p
		}
	} else if fi, err := os.Stat(filepath.Join(dir, "go")); err == nil && fi.IsDir() {
		s.WASMDir = "go"
	}

	switch f.WASMTC {
	case "", ToolchainGo, ToolchainTinyGo:
		s.WASMToolchain = f.WASMTC
	default:
		return Spec{}, fmt.Errorf("%s: wasm-toolchain %q is not supported: use %q or %q", SpecFile, f.WASMTC, ToolchainGo, ToolchainTinyGo)
	}

	if f.Metadata != "" {
		s.Metadata = filepath.Clean(f.Metadata)
		if _, err := os.Stat(filepath.Join(dir, s.Metadata)); err != nil {
			return Spec{}, fmt.Errorf("metadata file %s%s: %w", s.Metadata, where("metadata"), err)
		}
	} else if _, err := os.Stat(filepath.Join(dir, "gadget.yaml")); err == nil {
		s.Metadata = "gadget.yaml"
	}

	if f.BTFGen != "" {
		s.BTFGen = filepath.Clean(f.BTFGen)
		if !strings.Contains(s.BTFGen, ArchPlaceholder) {
			if _, err := os.Stat(filepath.Join(dir, s.BTFGen)); err != nil {
				return Spec{}, fmt.Errorf("btfgen archive %s%s: %w", s.BTFGen, where("btfgen"), err)
			}
		}
	}

	switch f.CFlags.Kind {
	case 0:
	case yaml.ScalarNode:
		s.CFlags = strings.Fields(f.CFlags.Value)
	case yaml.SequenceNode:
		for _, n := range f.CFlags.Content {
			if n.Kind != yaml.ScalarNode {
				return Spec{}, fmt.Errorf("%s line %d: cflags must be a string or a list of strings", SpecFile, n.Line)
			}
			s.CFlags = append(s.CFlags, n.Value)
		}
	default:
		return Spec{}, fmt.Errorf("%s line %d: cflags must be a string or a list of strings", SpecFile, f.CFlags.Line)
	}
	return s, nil
}

// metadataFields are the gadget.yaml keys that become image annotations.
type metadataFields struct {
	Name             string `yaml:"name"`
	Description      string `yaml:"description"`
	HomepageURL      string `yaml:"homepageURL"`
	DocumentationURL string `yaml:"documentationURL"`
	SourceURL        string `yaml:"sourceURL"`
}

// annotationsFromMetadata maps gadget.yaml's descriptive keys to OCI annotations.
func annotationsFromMetadata(name string, data []byte) (map[string]string, error) {
	var m metadataFields
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", name, err)
		}
	}
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set("org.opencontainers.image.title", m.Name)
	set("org.opencontainers.image.description", m.Description)
	set("org.opencontainers.image.url", m.HomepageURL)
	set("org.opencontainers.image.documentation", m.DocumentationURL)
	set("org.opencontainers.image.source", m.SourceURL)
	return a, nil
}
