package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest gadget.yaml Parse accepts.
const MaxSize = 1 << 20

// FileName is the name errors give the metadata file.
const FileName = "gadget.yaml"

// Parse reads a gadget.yaml. Empty input gives empty Metadata. Errors start with
// "gadget.yaml:LINE:" and name the offending key.
func Parse(b []byte) (*Metadata, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d a metadata file may have", FileName, len(b), MaxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Metadata{}, nil
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document; a metadata file holds one", FileName, line)
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(err)
	}
	m := &Metadata{}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return m, nil
		}
		root = root.Content[0]
	}
	if err := parseMetadata(root, m); err != nil {
		return nil, err
	}
	return m, nil
}

// syntaxError rewrites yaml.v3's "yaml: line N: msg" as "gadget.yaml:N: msg".
func syntaxError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			return fmt.Errorf("%s:%s: invalid YAML:%s", FileName, rest[:i], rest[i+1:])
		}
	}
	return fmt.Errorf("%s: invalid YAML: %s", FileName, msg)
}

func errAt(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", FileName, n.Line, fmt.Sprintf(format, args...))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unknown node"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping walks a mapping node whose keys must be among known (nil: any key). A null node is
// an empty mapping.
func mapping(n *yaml.Node, what string, known []string, each func(key string, v *yaml.Node) error) error {
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return errAt(n, "%s: aliases (*name) are not supported", what)
	}
	if n.Kind != yaml.MappingNode {
		return errAt(n, "%s must be a mapping, not %s", what, kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return errAt(k, "%s: a key must be a plain string, not %s", what, kindName(k))
		}
		key := k.Value
		if k.Tag == "!!merge" {
			return errAt(k, "%s: merge keys (<<) are not supported", what)
		}
		if known != nil && !contains(known, key) {
			if s := suggest(key, known); s != "" {
				return errAt(k, "unknown key %q in %s (did you mean %q?)", key, what, s)
			}
			return errAt(k, "unknown key %q in %s (known: %s)", key, what, strings.Join(known, ", "))
		}
		if seen[key] {
			return errAt(k, "key %q given twice in %s", key, what)
		}
		seen[key] = true
		if v.Kind == yaml.AliasNode {
			return errAt(v, "%s.%s: aliases (*name) are not supported", what, key)
		}
		if err := each(key, v); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scalar returns a scalar's text; numbers and booleans are taken as written.
func scalar(n *yaml.Node, what string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a string, not %s", what, kindName(n))
	}
	return n.Value, nil
}

func boolean(n *yaml.Node, what string) (bool, error) {
	if isNull(n) {
		return false, nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, errAt(n, "%s must be true or false, not %s", what, kindName(n))
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, errAt(n, "%s: %v", what, err)
	}
	return b, nil
}

func stringList(n *yaml.Node, what string) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "%s must be a list, not %s", what, kindName(n))
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := scalar(c, what+" item")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func annotations(n *yaml.Node, what string) (map[string]string, error) {
	out := map[string]string{}
	err := mapping(n, what, nil, func(k string, v *yaml.Node) error {
		s, err := scalar(v, what+"."+k)
		out[k] = s
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// The keys each level knows: Gadgetry's and Inspektor Gadget's (IG reads gadget.yaml through
// a case-insensitive configuration library, so its own gadgets also spell datasources
// "dataSources": both spellings are accepted, not both at once). A key neither project
// defines is an error.
var (
	topKeys     = []string{"name", "description", "category", "homepageURL", "documentationURL", "sourceURL", "annotations", "datasources", "dataSources", "params", "programs", "paramDefaults", "operator"}
	dsKeys      = []string{"annotations", "fields"}
	fieldKeys   = []string{"annotations"}
	paramsKeys  = []string{"ebpf", "wasm", "custom"}
	paramKeys   = []string{"key", "defaultValue", "description", "alias", "title", "typeHint", "type", "valueHint", "possibleValues", "isMandatory", "alternativeKey", "tags"}
	programKeys = []string{"attach_to", "optional", "enabled_if", "affects", "alternative", "perf", "sampler"}
	perfKeys    = []string{"type", "config", "sampleType"}
	samplerKeys = []string{"frequency"}
)

func parseMetadata(n *yaml.Node, m *Metadata) error {
	return mapping(n, "the metadata file", topKeys, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "name":
			m.Name, err = scalar(v, k)
		case "description":
			m.Description, err = scalar(v, k)
		case "category":
			m.Category, err = scalar(v, k)
		case "homepageURL":
			m.HomepageURL, err = scalar(v, k)
		case "documentationURL":
			m.DocumentationURL, err = scalar(v, k)
		case "sourceURL":
			m.SourceURL, err = scalar(v, k)
		case "annotations":
			m.Annotations, err = annotations(v, k)
		case "datasources", "dataSources":
			if m.DataSources != nil {
				return errAt(v, "%s: the data sources are given twice (datasources and dataSources); keep one", k)
			}
			m.DataSources = map[string]*DataSource{}
			err = mapping(v, k, nil, func(name string, v *yaml.Node) error {
				ds, err := parseDataSource(v, k+"."+name)
				m.DataSources[name] = ds
				return err
			})
		case "paramDefaults":
			err = mapping(v, k, nil, func(name string, v *yaml.Node) error {
				s, err := scalar(v, k+"."+name)
				if m.ParamDefaults == nil {
					m.ParamDefaults = map[string]string{}
				}
				m.ParamDefaults[name] = s
				return err
			})
		case "operator":
			if v.Kind != yaml.MappingNode && !isNull(v) {
				return errAt(v, "operator must be a mapping, not %s", kindName(v))
			}
			if err := v.Decode(&m.Operator); err != nil {
				return errAt(v, "operator: %v", err)
			}
		case "params":
			err = mapping(v, k, paramsKeys, func(group string, v *yaml.Node) error {
				if group == "custom" {
					if v.Kind != yaml.MappingNode && !isNull(v) {
						return errAt(v, "params.custom must be a mapping, not %s", kindName(v))
					}
					if err := v.Decode(&m.Params.Custom); err != nil {
						return errAt(v, "params.custom: %v", err)
					}
					return nil
				}
				ps := map[string]*Param{}
				err := mapping(v, "params."+group, nil, func(name string, v *yaml.Node) error {
					p, err := parseParam(v, "params."+group+"."+name)
					ps[name] = p
					return err
				})
				if len(ps) == 0 {
					ps = nil
				}
				if group == "ebpf" {
					m.Params.EBPF = ps
				} else {
					m.Params.WASM = ps
				}
				return err
			})
		case "programs":
			err = mapping(v, k, nil, func(name string, v *yaml.Node) error {
				p := &Program{}
				what := "programs." + name
				err := mapping(v, what, programKeys, func(k string, v *yaml.Node) error {
					var err error
					switch k {
					case "attach_to":
						p.AttachTo, err = scalar(v, what+"."+k)
					case "optional":
						p.Optional, err = boolean(v, what+"."+k)
					case "affects":
						p.Affects, err = stringList(v, what+"."+k)
					case "enabled_if":
						var cond string
						if cond, err = scalar(v, what+"."+k); err == nil {
							p.EnabledIf, err = ParseCondition(cond)
							if err != nil {
								err = fmt.Errorf("gadget.yaml:%d: %s: %w", v.Line, what+"."+k, err)
							}
						}
					case "perf":
						p.Perf = &Perf{}
						err = mapping(v, what+".perf", perfKeys, func(k string, v *yaml.Node) error {
							var err error
							w := what + ".perf." + k
							switch k {
							case "type":
								p.Perf.Type, err = scalar(v, w)
							case "config":
								p.Perf.Config, err = scalar(v, w)
							case "sampleType":
								p.Perf.SampleType, err = scalar(v, w)
							}
							return err
						})
					case "sampler":
						p.Sampler = &Sampler{}
						err = mapping(v, what+".sampler", samplerKeys, func(_ string, v *yaml.Node) error {
							var f uint64
							if v.Kind != yaml.ScalarNode || v.Decode(&f) != nil || f == 0 {
								return errAt(v, "%s.sampler.frequency must be a positive number of samples per second, not %s", what, kindName(v))
							}
							p.Sampler.Frequency = f
							return nil
						})
					case "alternative":
						var cond string
						if cond, err = scalar(v, what+"."+k); err == nil {
							p.Alternative, err = ParseCondition(cond)
							if err == nil && p.Alternative.Negate {
								err = fmt.Errorf("%q: an alternative is chosen by one value: want key=value", cond)
							}
							if err != nil {
								err = fmt.Errorf("gadget.yaml:%d: %s: %w", v.Line, what+"."+k, err)
							}
						}
					}
					return err
				})
				if m.Programs == nil {
					m.Programs = map[string]*Program{}
				}
				m.Programs[name] = p
				return err
			})
		}
		return err
	})
}

func parseDataSource(n *yaml.Node, what string) (*DataSource, error) {
	ds := &DataSource{}
	err := mapping(n, what, dsKeys, func(k string, v *yaml.Node) error {
		switch k {
		case "annotations":
			var err error
			ds.Annotations, err = annotations(v, what+".annotations")
			return err
		default: // fields
			return mapping(v, what+".fields", nil, func(name string, v *yaml.Node) error {
				f := &Field{}
				fw := what + ".fields." + name
				err := mapping(v, fw, fieldKeys, func(_ string, v *yaml.Node) error {
					var err error
					f.Annotations, err = annotations(v, fw+".annotations")
					return err
				})
				if ds.Fields == nil {
					ds.Fields = map[string]*Field{}
				}
				ds.Fields[name] = f
				return err
			})
		}
	})
	return ds, err
}

func parseParam(n *yaml.Node, what string) (*Param, error) {
	p := &Param{}
	err := mapping(n, what, paramKeys, func(k string, v *yaml.Node) error {
		var err error
		w := what + "." + k
		switch k {
		case "key":
			p.Key, err = scalar(v, w)
		case "defaultValue":
			p.DefaultValue, err = scalar(v, w)
		case "description":
			p.Description, err = scalar(v, w)
		case "alias":
			p.Alias, err = scalar(v, w)
		case "title":
			p.Title, err = scalar(v, w)
		case "typeHint", "type":
			// IG writes the type hint as "type"; Gadgetry as "typeHint".
			if p.TypeHint != "" {
				return errAt(v, "%s: the type is given twice (typeHint and type); keep one", what)
			}
			p.TypeHint, err = scalar(v, w)
		case "alternativeKey":
			p.AlternativeKey, err = scalar(v, w)
		case "tags":
			p.Tags, err = stringList(v, w)
		case "valueHint":
			p.ValueHint, err = scalar(v, w)
		case "possibleValues":
			p.PossibleValues, err = stringList(v, w)
		case "isMandatory":
			p.IsMandatory, err = boolean(v, w)
		}
		return err
	})
	return p, err
}

// suggest returns the known key closest to key when it is close enough to be a typo.
func suggest(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		d := distance(strings.ToLower(key), strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 2 || (bestD <= 3 && len(key) > 6) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance between a and b (bytes).
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Marshal writes m as a gadget.yaml (keys in a stable order).
func Marshal(m *Metadata) ([]byte, error) {
	return yaml.Marshal(m)
}
