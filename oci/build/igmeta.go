package build

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/gadgetry/gadgetry/oci/metadata"
)

// What ig, Inspektor Gadget's command, needs of an image and Gadgetry's runtime does not: the
// builder's version, and a name for the field ig adds beside each enum field.
const (
	// AnnotationBuilderVersion is IG's manifest annotation of the version of the builder.
	// ig warns when an image has none ("Builder version not found in the gadget image"), and
	// when it parses as an ig release other than its own.
	AnnotationBuilderVersion = "io.inspektor-gadget.builder.version"
	// BuilderVersion is what Gadgetry writes there: it names the builder rather than posing
	// as an ig release, which ig takes without a warning (it is not a version number). It is
	// fixed, so that rebuilding a gadget with another gadgetry gives the same digest.
	BuilderVersion = "gadgetry"
	// AnnotationIGEnum is the field annotation (gadget.yaml
	// datasources.<ds>.fields.<field>.annotations) naming the field ig adds with an enum
	// field's names. Without it ig names only enum fields called <name>_raw (it adds <name>)
	// and warns about the others. Gadgetry's runtime reads it too (decode.EnumNameAnnotation).
	AnnotationIGEnum = "ebpf.formatter.enum"
	// igEnumSuffix makes the name the builder gives the field ig adds: <field>_name.
	igEnumSuffix = "_name"
)

// igEnumFields returns, by data source, the fields of obj's tracer and iterator records that
// ig formats as enums (members of enum type, by their dotted names) and cannot name itself
// (not ending in _raw).
func igEnumFields(obj []byte) (map[string][]string, error) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("reading the eBPF object's BTF: %w", err)
	}
	out := map[string][]string{}
	for t, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("reading the eBPF object's BTF: %w", err)
		}
		v, ok := t.(*btf.Var)
		if !ok {
			continue
		}
		var ds, name string
		switch {
		case strings.HasPrefix(v.Name, "gadget_tracer_"):
			parts := strings.Split(strings.TrimPrefix(v.Name, "gadget_tracer_"), "___")
			if len(parts) != 3 {
				continue
			}
			ds, name = parts[0], parts[2]
		case strings.HasPrefix(v.Name, "gadget_iter_"):
			parts := strings.Split(strings.TrimPrefix(v.Name, "gadget_iter_"), "___")
			if len(parts) < 3 {
				continue
			}
			ds, name = parts[0], parts[1]
		default:
			continue
		}
		var st *btf.Struct
		if spec.TypeByName(name, &st) != nil {
			continue // the runtime says what is wrong with the marker
		}
		enumMembers(st.Members, "", func(field string) {
			if !strings.HasSuffix(field, "_raw") && !slices.Contains(out[ds], field) {
				out[ds] = append(out[ds], field)
			}
		})
	}
	return out, nil
}

// enumMembers calls fn with the dotted name of every member of enum type, in nested structs
// and unions too (members whose names start with "__" are hidden, as ig does).
func enumMembers(ms []btf.Member, prefix string, fn func(string)) {
	for _, m := range ms {
		if strings.HasPrefix(m.Name, "__") {
			continue
		}
		switch t := m.Type.(type) {
		case *btf.Enum:
			fn(prefix + m.Name)
		case *btf.Struct:
			enumMembers(t.Members, prefix+m.Name+".", fn)
		case *btf.Union:
			enumMembers(t.Members, prefix+m.Name+".", fn)
		}
	}
}

// withIGEnumNames returns gadget.yaml meta with the annotation AnnotationIGEnum set to
// <field>_name on each of fields (by data source) that has none, so that ig names the enum
// values in a field of its own instead of warning; meta itself when every field has one.
func withIGEnumNames(meta []byte, fields map[string][]string) ([]byte, error) {
	if len(fields) == 0 {
		return meta, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(meta, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return meta, nil // the strict parse says what is wrong
	}
	key := "datasources"
	if child(root, "dataSources") != nil {
		key = "dataSources" // IG's spelling, which Gadgetry accepts too
	}
	changed := false
	dss := mappingAt(root, key)
	names := make([]string, 0, len(fields))
	for ds := range fields {
		names = append(names, ds)
	}
	slices.Sort(names)
	for _, ds := range names {
		for _, f := range fields[ds] {
			ann := mappingAt(mappingAt(mappingAt(mappingAt(dss, ds), "fields"), f), "annotations")
			if child(ann, AnnotationIGEnum) != nil {
				continue
			}
			ann.Content = append(ann.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: AnnotationIGEnum},
				&yaml.Node{Kind: yaml.ScalarNode, Value: f + igEnumSuffix})
			changed = true
		}
	}
	if !changed {
		return meta, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// child returns the value of key in mapping m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mappingAt returns the mapping that is the value of key in mapping m, made (or made from a
// null value) when missing.
func mappingAt(m *yaml.Node, key string) *yaml.Node {
	if v := child(m, key); v != nil {
		if v.Kind != yaml.MappingNode {
			*v = yaml.Node{Kind: yaml.MappingNode}
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// addIGEnumNames names, in the image's gadget.yaml, the field ig adds for each enum field of
// the records that has no name for it (withIGEnumNames), and says so.
func (img *image) addIGEnumNames(progress io.Writer) error {
	fields, err := igEnumFields(img.archs[0].ebpf)
	if err != nil {
		return err
	}
	meta, err := withIGEnumNames(img.metadata, fields)
	if err != nil {
		return fmt.Errorf("adding ig's enum annotations to gadget.yaml: %w", err)
	}
	if bytes.Equal(meta, img.metadata) {
		return nil
	}
	if _, err := metadata.Parse(meta); err != nil {
		return fmt.Errorf("adding ig's enum annotations to gadget.yaml: %w", err)
	}
	var named []string
	for ds, fs := range fields {
		for _, f := range fs {
			named = append(named, ds+"."+f)
		}
	}
	slices.Sort(named)
	fmt.Fprintf(progress, "gadget.yaml in the image: %s names the field ig adds with the names of enum fields %s\n", AnnotationIGEnum, strings.Join(named, ", "))
	img.metadata = meta
	return nil
}
