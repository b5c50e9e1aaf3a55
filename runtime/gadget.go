package runtime

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/metadata"
	"github.com/gadgetry/gadgetry/runtime/attach"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// Gadget is a parsed image, ready to run any number of times. It is read-only once prepared.
type Gadget struct {
	// Image is the image the gadget was parsed from.
	Image *oci.Gadget
	// Name is gadget.yaml's name, or the reference.
	Name string
	// Meta is the parsed gadget.yaml.
	Meta *metadata.Metadata
	// Params are the parameters, in a stable order (eBPF params, filters, runtime params such as
	// map-fetch-interval, WASM params).
	Params []*Param
	// Tracers are the event streams the object declares.
	Tracers []*Tracer
	// Iters are the snapshots BPF iterator programs produce (gadget_iter_ markers).
	Iters []*Iter
	// MapIters are the hash maps dumped periodically (gadget_mapiter_ markers).
	MapIters []*MapIter
	// Programs are the object's programs, sorted by name.
	Programs []*Program

	spec     *ebpf.CollectionSpec // template: copied for each run
	hasMntns bool
	iterMaps map[string]string // GADGET_ITER_TARGET_MAP: iterator program → map
	choices  []*choice         // alternative programs, by parameter (alternatives.go)
}

// Tracer is one `gadget_tracer_<ds>___<map>___<struct>` marker.
type Tracer struct {
	// DataSource is the data source's name.
	DataSource string
	// Map is the name of the ring buffer or perf event array the records are read from.
	Map string
	// PerfArray is set when Map is a perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY: one buffer
	// per CPU, read with cilium/ebpf/perf) rather than a ring buffer.
	PerfArray bool
	// Struct is the record type.
	Struct *btf.Struct
	// LostMap is `<map>_lost_samples`, empty when the object has none.
	LostMap string
}

// Iter is one `gadget_iter_<ds>___<struct>___<prog>` marker: the iterator program Program
// writes records of Struct with bpf_seq_write; once attached, the runtime reads the iterator
// once and emits the records as one array of data source DataSource.
type Iter struct {
	// DataSource is the array data source's name.
	DataSource string
	// Struct is the record type.
	Struct *btf.Struct
	// Program is the iterator program (an `iter/<target>` section). A marker naming several
	// programs gives one Iter per program, with the same DataSource: each program's records
	// are emitted as an array of that data source.
	Program string

	marker string // the marker's name
}

// MapIter is one `gadget_mapiter_<ds>___<map>` marker: every map-fetch-interval the runtime
// reads and deletes every entry of the hash map Map and emits them as one array of data source
// DataSource, whose fields are the key's and the value's (see decode.KeyValue).
type MapIter struct {
	// DataSource is the array data source's name.
	DataSource string
	// Map is the hash map's name.
	Map string
	// Key and Value are the map's key and value types, from its BTF.
	Key, Value btf.Type
}

// MapFetchIntervalParam is the key of the parameter that gadgets with a gadget_mapiter_ marker
// get: how often the maps are dumped (a duration; 0 dumps only when the run stops).
const MapFetchIntervalParam = "map-fetch-interval"

// Program is one eBPF program and where it attaches.
type Program struct {
	// Name is the program's (function's) name.
	Name string
	// Section is its ELF section.
	Section string
	// Kind and Target come from the section, Target overridden by gadget.yaml's attach_to.
	Kind   attach.Kind
	Target string
	// Disabled programs (attach_to: gadget_program_disabled) are neither loaded nor attached.
	Disabled bool
	// Optional programs whose attach type the kernel lacks give a warning, not an error.
	Optional bool
	// EnabledIf, when set, attaches the program only when a parameter has a given value
	// (gadget.yaml programs.<p>.enabled_if).
	EnabledIf *metadata.Condition
	// Affects are the fields an optional program feeds (gadget.yaml programs.<p>.affects).
	Affects []string
	// Alternative, when set, makes the program one way among others of doing one thing: it
	// runs only when the run chooses Alternative.Value for the parameter Alternative.Param
	// (gadget.yaml programs.<p>.alternative; see alternatives.go).
	Alternative *metadata.Condition
	// Perf is the event a perf_event program samples (gadget.yaml programs.<p>.perf and
	// .sampler).
	Perf *attach.PerfEvent
	// IterMap is the map an iter/bpf_map_elem program walks: the map its
	// GADGET_ITER_TARGET_MAP marker (gadget_mapelem_iter_target_<prog>___<map>) names.
	IterMap string
}

// HasMntnsField reports whether the gadget's events record a mount namespace (a field of type
// gadget_mntns_id): the key of container enrichment and selection.
func (g *Gadget) HasMntnsField() bool { return g.hasMntns }

// ContainersDataSourceAnnotation, set to "true" in gadget.yaml's top-level annotations, says
// the gadget's WASM module selects by container through the containers data source
// (Inspektor Gadget's name: IG offers that data source only to gadgets that have it).
const ContainersDataSourceAnnotation = "enable-containers-datasource"

// SelectsContainers reports whether a run of the gadget can select containers (-c,
// --containers-only, pods): its events record a mount namespace (HasMntnsField), or its
// gadget.yaml has ContainersDataSourceAnnotation, as IG's traceloop, whose WASM module makes
// its data source and records the containers that data source announces. Give such a run
// ContainerHooks.
func (g *Gadget) SelectsContainers() bool {
	return g.hasMntns || (g.Meta != nil && g.Meta.Annotations[ContainersDataSourceAnnotation] == "true")
}

// Program returns the program called name, or nil.
func (g *Gadget) Program(name string) *Program {
	for _, p := range g.Programs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Param returns the parameter with key, or nil.
func (g *Gadget) Param(key string) *Param {
	for _, p := range g.Params {
		if p.Key == key {
			return p
		}
	}
	return nil
}

// NewDataSources builds fresh data sources for the gadget's tracers, iterators and map
// iterators (one set per run: each run has its own subscribers), with gadget.yaml's
// annotations applied.
func (g *Gadget) NewDataSources() ([]*datasource.DataSource, error) {
	var out []*datasource.DataSource
	add := func(what, name string, ds *datasource.DataSource, err error) error {
		if err != nil {
			return fmt.Errorf("gadget %s: %s %s: %w", g.Name, what, name, err)
		}
		if err := g.annotate(ds); err != nil {
			return err
		}
		out = append(out, ds)
		return nil
	}
	for _, t := range g.Tracers {
		ds, err := decode.DataSource(t.DataSource, t.Struct)
		if err := add("tracer", t.DataSource, ds, err); err != nil {
			return nil, err
		}
	}
	for i, it := range g.Iters {
		if i > 0 && g.Iters[i-1].DataSource == it.DataSource {
			continue // the next program of one marker: the same data source
		}
		ds, err := decode.Array(it.DataSource, it.Struct)
		if err := add("iterator", it.DataSource, ds, err); err != nil {
			return nil, err
		}
	}
	for _, mi := range g.MapIters {
		ds, err := decode.KeyValue(mi.DataSource, mi.Key, mi.Value)
		if err := add("map iterator", mi.DataSource, ds, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// annotate applies gadget.yaml's annotations of ds and its fields.
func (g *Gadget) annotate(ds *datasource.DataSource) error {
	md := g.Meta.DataSources[ds.Name]
	if md == nil {
		return nil
	}
	for k, v := range md.Annotations {
		ds.Annotations[k] = v
	}
	if _, err := decode.AddRest(ds); err != nil {
		return fmt.Errorf("gadget %s: gadget.yaml %w", g.Name, err)
	}
	for name, fa := range md.Fields {
		f := ds.Field(name)
		if f == nil || fa == nil {
			continue
		}
		for k, v := range fa.Annotations {
			f.Annotations[k] = v
		}
		if err := format.CheckAnnotations(f); err != nil {
			return fmt.Errorf("gadget %s: gadget.yaml %w", g.Name, err)
		}
	}
	if err := decode.AddEnumNames(ds); err != nil {
		return fmt.Errorf("gadget %s: gadget.yaml: data source %s: %w", g.Name, ds.Name, err)
	}
	return nil
}

func prepare(img *oci.Gadget) (*Gadget, error) {
	meta, err := metadata.Parse(img.Metadata)
	if err != nil {
		return nil, fmt.Errorf("gadget %s: %w", img.Ref, err)
	}
	g := &Gadget{Image: img, Meta: meta, Name: meta.Name}
	if g.Name == "" {
		g.Name = img.Ref
	}
	if len(img.EBPF) == 0 {
		return nil, fmt.Errorf("gadget %s: the image has no eBPF object for %s; rebuild it with one", g.Name, img.Arch)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(img.EBPF))
	if err != nil {
		if strings.Contains(err.Error(), "BTF") || strings.Contains(err.Error(), "btf") {
			return nil, fmt.Errorf("gadget %s: the eBPF object has no usable BTF (%v); compile it with clang -g and strip it with llvm-strip -g, which keeps .BTF", g.Name, err)
		}
		return nil, fmt.Errorf("gadget %s: reading the eBPF object: %w", g.Name, err)
	}
	if spec.Types == nil {
		return nil, fmt.Errorf("gadget %s: the eBPF object has no BTF; compile it with clang -g and strip it with llvm-strip -g, which keeps .BTF", g.Name)
	}
	g.spec = spec
	if err := g.findMarkers(); err != nil {
		return nil, err
	}
	if err := g.findParams(); err != nil {
		return nil, err
	}
	if err := g.applyParamDefaults(); err != nil {
		return nil, err
	}
	if err := g.sizeTemplate(); err != nil {
		return nil, err
	}
	// After the params: programs' enabled_if conditions name them.
	if err := g.findPrograms(); err != nil {
		return nil, err
	}
	// Build the data sources once now so a broken struct is a Prepare error.
	dss, err := g.NewDataSources()
	if err != nil {
		return nil, err
	}
	for _, ds := range dss {
		for _, f := range ds.Fields() {
			g.hasMntns = g.hasMntns || f.Type == "gadget_mntns_id"
		}
	}
	return g, nil
}

func (g *Gadget) findMarkers() error {
	var tracerMaps = map[string]bool{}
	for t, err := range g.spec.Types.All() {
		if err != nil {
			return fmt.Errorf("gadget %s: reading BTF: %w", g.Name, err)
		}
		v, ok := t.(*btf.Var)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(v.Name, "gadget_tracer_"):
			parts := strings.Split(strings.TrimPrefix(v.Name, "gadget_tracer_"), "___")
			if len(parts) != 3 {
				return fmt.Errorf("gadget %s: marker %s: want gadget_tracer_<ds>___<map>___<struct>", g.Name, v.Name)
			}
			tr := &Tracer{DataSource: parts[0], Map: parts[1]}
			ms, ok := g.spec.Maps[tr.Map]
			if !ok {
				return fmt.Errorf("gadget %s: tracer %s names map %q, which the eBPF object does not define; declare it with GADGET_TRACER_MAP(%s, size)", g.Name, tr.DataSource, tr.Map, tr.Map)
			}
			switch ms.Type {
			case ebpf.RingBuf:
			case ebpf.PerfEventArray:
				tr.PerfArray = true
			default:
				return fmt.Errorf("gadget %s: tracer %s: map %s is a %s, want a ring buffer (GADGET_TRACER_MAP) or a perf event array (GADGET_TRACER_PERF_MAP)", g.Name, tr.DataSource, tr.Map, ms.Type)
			}
			var st *btf.Struct
			if err := g.spec.Types.TypeByName(parts[2], &st); err != nil {
				return fmt.Errorf("gadget %s: tracer %s names struct %q, which is not in the object's BTF; use GADGET_TRACER(%s, %s, <struct>) with a struct the program uses", g.Name, tr.DataSource, parts[2], tr.DataSource, tr.Map)
			}
			tr.Struct = st
			if _, ok := g.spec.Maps[tr.Map+"_lost_samples"]; ok {
				tr.LostMap = tr.Map + "_lost_samples"
			}
			g.Tracers = append(g.Tracers, tr)
		case strings.HasPrefix(v.Name, "gadget_map_tracer_"):
			tracerMaps[strings.TrimPrefix(v.Name, "gadget_map_tracer_")] = true
		case strings.HasPrefix(v.Name, "gadget_iter_"):
			its, err := g.iterMarker(v.Name)
			if err != nil {
				return err
			}
			g.Iters = append(g.Iters, its...)
		case strings.HasPrefix(v.Name, "gadget_mapelem_iter_target_"):
			prog, m, ok := strings.Cut(strings.TrimPrefix(v.Name, "gadget_mapelem_iter_target_"), "___")
			if !ok || prog == "" || m == "" {
				return fmt.Errorf("gadget %s: marker %s: want gadget_mapelem_iter_target_<program>___<map> (GADGET_ITER_TARGET_MAP(program, map))", g.Name, v.Name)
			}
			if _, ok := g.spec.Maps[m]; !ok {
				return fmt.Errorf("gadget %s: GADGET_ITER_TARGET_MAP(%s, %s): the object has no map %s", g.Name, prog, m, m)
			}
			if g.iterMaps == nil {
				g.iterMaps = map[string]string{}
			}
			g.iterMaps[prog] = m
		case strings.HasPrefix(v.Name, "gadget_mapiter_"):
			mi, err := g.mapIterMarker(v.Name)
			if err != nil {
				return err
			}
			g.MapIters = append(g.MapIters, mi)
		}
	}
	sort.Slice(g.Tracers, func(i, j int) bool { return g.Tracers[i].DataSource < g.Tracers[j].DataSource })
	sort.SliceStable(g.Iters, func(i, j int) bool { return g.Iters[i].DataSource < g.Iters[j].DataSource })
	sort.Slice(g.MapIters, func(i, j int) bool { return g.MapIters[i].DataSource < g.MapIters[j].DataSource })
	seen := map[string]string{}
	for _, t := range g.Tracers {
		seen[t.DataSource] = "tracer"
	}
	for i, it := range g.Iters {
		if i > 0 && g.Iters[i-1].DataSource == it.DataSource && g.Iters[i-1].marker == it.marker {
			continue // one marker naming several programs
		}
		if k, dup := seen[it.DataSource]; dup {
			return fmt.Errorf("gadget %s: data source %s is declared twice (a %s and an iterator); give one another name", g.Name, it.DataSource, k)
		}
		seen[it.DataSource] = "iterator"
	}
	for _, mi := range g.MapIters {
		if k, dup := seen[mi.DataSource]; dup {
			return fmt.Errorf("gadget %s: data source %s is declared twice (a %s and a map iterator); give one another name", g.Name, mi.DataSource, k)
		}
		seen[mi.DataSource] = "map iterator"
	}
	return nil
}

// iterMarker parses `gadget_iter_<ds>___<struct>___<prog>[___<prog2>...]`: a marker may name
// several iterator programs (IG's GADGET_ITER takes up to three) whose records all go to the
// data source; each gives one Iter.
func (g *Gadget) iterMarker(name string) ([]*Iter, error) {
	parts := strings.Split(strings.TrimPrefix(name, "gadget_iter_"), "___")
	if len(parts) < 3 || slices.Contains(parts, "") {
		return nil, fmt.Errorf("gadget %s: marker %s: want gadget_iter_<ds>___<struct>___<prog> (GADGET_ITER(ds, struct, prog)), with more ___<prog> for more programs", g.Name, name)
	}
	var its []*Iter
	for _, prog := range parts[2:] {
		it, err := g.iterProgram(name, parts[0], parts[1], prog)
		if err != nil {
			return nil, err
		}
		its = append(its, it)
	}
	return its, nil
}

// iterProgram is one program of an iterator marker.
func (g *Gadget) iterProgram(marker, ds, structName, prog string) (*Iter, error) {
	parts := []string{ds, structName, prog}
	it := &Iter{DataSource: ds, Program: prog, marker: marker}
	ps, ok := g.spec.Programs[it.Program]
	if !ok {
		return nil, fmt.Errorf("gadget %s: iterator %s names program %q, which the eBPF object does not have (programs: %s); name the SEC(\"iter/...\") function in GADGET_ITER", g.Name, it.DataSource, it.Program, strings.Join(g.programNames(), ", "))
	}
	if kind, _, err := attach.Parse(ps.SectionName); err != nil || kind != attach.Iter {
		return nil, fmt.Errorf("gadget %s: iterator %s names program %s, which is in section %q, not an iterator; put it in SEC(\"iter/<target>\") (iter/task, iter/tcp, ...)", g.Name, it.DataSource, it.Program, ps.SectionName)
	}
	var st *btf.Struct
	if err := g.spec.Types.TypeByName(parts[1], &st); err != nil {
		return nil, fmt.Errorf("gadget %s: iterator %s names struct %q, which is not in the object's BTF; use GADGET_ITER(%s, <struct>, %s) with the struct the program writes", g.Name, it.DataSource, parts[1], it.DataSource, it.Program)
	}
	if st.Size == 0 {
		return nil, fmt.Errorf("gadget %s: iterator %s: struct %s is empty; its records need at least one member", g.Name, it.DataSource, st.Name)
	}
	it.Struct = st
	return it, nil
}

// mapIterMarker parses `gadget_mapiter_<ds>___<map>`.
func (g *Gadget) mapIterMarker(name string) (*MapIter, error) {
	parts := strings.Split(strings.TrimPrefix(name, "gadget_mapiter_"), "___")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("gadget %s: marker %s: want gadget_mapiter_<ds>___<map> (GADGET_MAPITER(ds, map))", g.Name, name)
	}
	mi := &MapIter{DataSource: parts[0], Map: parts[1]}
	ms, ok := g.spec.Maps[mi.Map]
	if !ok {
		return nil, fmt.Errorf("gadget %s: map iterator %s names map %q, which the eBPF object does not define; declare it in SEC(\".maps\")", g.Name, mi.DataSource, mi.Map)
	}
	switch ms.Type {
	case ebpf.Hash, ebpf.LRUHash:
	default:
		return nil, fmt.Errorf("gadget %s: map iterator %s: map %s is of type %s; only hash maps (BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH) can be dumped", g.Name, mi.DataSource, mi.Map, ms.Type)
	}
	_, kvoid := ms.Key.(*btf.Void)
	_, vvoid := ms.Value.(*btf.Void)
	if ms.Key == nil || ms.Value == nil || kvoid || vvoid {
		return nil, fmt.Errorf("gadget %s: map iterator %s: map %s has no BTF key or value type; declare them with __type(key, ...) and __type(value, ...)", g.Name, mi.DataSource, mi.Map)
	}
	mi.Key, mi.Value = ms.Key, ms.Value
	return mi, nil
}

func (g *Gadget) findPrograms() error {
	for name, ps := range g.spec.Programs {
		kind, target, err := attach.Parse(ps.SectionName)
		if err != nil {
			return fmt.Errorf("gadget %s: program %s: %w; put it in a supported section", g.Name, name, err)
		}
		p := &Program{Name: name, Section: ps.SectionName, Kind: kind, Target: target}
		mp := g.Meta.Programs[name]
		if mp == nil && kind == attach.PerfEventKind {
			// IG names a perf_event program in gadget.yaml by its section's
			// perf_event/<name>, not by its function.
			mp = g.Meta.Programs[target]
		}
		if mp != nil {
			p.Optional = mp.Optional
			p.EnabledIf = mp.EnabledIf
			p.Affects = mp.Affects
			p.Alternative = mp.Alternative
			if mp.Perf != nil || mp.Sampler != nil {
				p.Perf = &attach.PerfEvent{}
				if mp.Perf != nil {
					p.Perf.Type, p.Perf.Config, p.Perf.SampleType = mp.Perf.Type, mp.Perf.Config, mp.Perf.SampleType
				}
				if mp.Sampler != nil {
					p.Perf.Frequency = mp.Sampler.Frequency
				}
			}
			if c := mp.EnabledIf; c != nil && g.Param(c.Param) == nil {
				return fmt.Errorf("gadget %s: gadget.yaml programs.%s.enabled_if names parameter %q, which the gadget does not have", g.Name, name, c.Param)
			}
			switch mp.AttachTo {
			case "":
			case metadata.DisabledProgram:
				p.Disabled = true
			default:
				p.Target = mp.AttachTo
			}
		}
		if m, ok := g.iterMaps[name]; ok {
			if kind != attach.Iter || target != "bpf_map_elem" {
				return fmt.Errorf("gadget %s: GADGET_ITER_TARGET_MAP(%s, %s): program %s is in section %s, not iter/bpf_map_elem", g.Name, name, m, name, ps.SectionName)
			}
			p.IterMap = m
		} else if kind == attach.Iter && target == "bpf_map_elem" {
			return fmt.Errorf("gadget %s: program %s (iter/bpf_map_elem) walks the elements of a map, which it must name: add GADGET_ITER_TARGET_MAP(%s, <map>)", g.Name, name, name)
		}
		g.Programs = append(g.Programs, p)
	}
	for prog, m := range g.iterMaps {
		if _, ok := g.spec.Programs[prog]; !ok {
			return fmt.Errorf("gadget %s: GADGET_ITER_TARGET_MAP(%s, %s) names no program of the object (programs: %s)", g.Name, prog, m, strings.Join(g.programNames(), ", "))
		}
	}
	for name := range g.Meta.Programs {
		if _, ok := g.spec.Programs[name]; !ok && !g.perfEventNamed(name) {
			return fmt.Errorf("gadget %s: gadget.yaml configures program %q, which the eBPF object does not have (programs: %s)", g.Name, name, strings.Join(g.programNames(), ", "))
		}
	}
	sort.Slice(g.Programs, func(i, j int) bool { return g.Programs[i].Name < g.Programs[j].Name })
	return g.findChoices()
}

// perfEventNamed reports whether a perf_event program's section is perf_event/<name>.
func (g *Gadget) perfEventNamed(name string) bool {
	for _, ps := range g.spec.Programs {
		if kind, target, err := attach.Parse(ps.SectionName); err == nil && kind == attach.PerfEventKind && target == name {
			return true
		}
	}
	return false
}

func (g *Gadget) programNames() []string {
	var n []string
	for name := range g.spec.Programs {
		n = append(n, name)
	}
	sort.Strings(n)
	return n
}
