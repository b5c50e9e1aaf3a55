package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// ParamSource says who consumes a parameter.
type ParamSource string

// Parameter sources.
const (
	// ParamEBPF params set a `const volatile` global before the object is loaded.
	ParamEBPF ParamSource = "ebpf"
	// ParamFilter params are the well-known in-kernel filters (targ_pid, ...).
	ParamFilter ParamSource = "filter"
	// ParamWASM params are read by the WASM guest.
	ParamWASM ParamSource = "wasm"
	// ParamRuntime params are read by the runtime itself (map-fetch-interval).
	ParamRuntime ParamSource = "runtime"
)

// Param is one user parameter.
type Param struct {
	// Key is the flag name (--key).
	Key string
	// Variable is the `const volatile` global it sets (eBPF and filter params).
	Variable string
	// Source says who consumes it.
	Source ParamSource
	// Kind is the value's kind (bool, intN, uintN, string).
	Kind datasource.Kind
	// Size is the variable's size in bytes (strings: the char array's length).
	Size int
	// Default is the default value as text ("" for filters: off).
	Default string
	// Description is shown in --help.
	Description string
	// Enum maps names to values for enum-typed variables.
	Enum map[string]int64
	// PossibleValues, when not empty, are the only values the parameter takes (gadget.yaml
	// possibleValues), in the order gadget.yaml lists them.
	PossibleValues []string

	// typeName and check replace the kind's name and validation (runtime params: durations).
	typeName string
	check    func(string) error
}

// TypeName describes the value for --help ("uint32", "string", "bool").
func (p *Param) TypeName() string {
	if p.typeName != "" {
		return p.typeName
	}
	if len(p.PossibleValues) > 0 {
		return strings.Join(p.PossibleValues, "|")
	}
	if p.Enum != nil {
		var names []string
		for n := range p.Enum {
			names = append(names, n)
		}
		sort.Strings(names)
		return strings.Join(names, "|")
	}
	return p.Kind.String()
}

var filterParams = []struct{ variable, key, desc string }{
	{"targ_pid", "pid", "show only events of this process id"},
	{"targ_tid", "tid", "show only events of this thread id"},
	{"targ_uid", "uid", "show only events of this user id"},
	{"targ_gid", "gid", "show only events of this group id"},
	{"targ_comm", "comm", "show only events of processes with this command name"},
}

// wellKnownParams are the bool parameters whose key Inspektor Gadget's CLI spells with dashes
// (its headers declare them: <gadget/user_stack_map.h>'s collect_ustack), so that
// `--collect-ustack` works for the same gadget in both; gadget.yaml's key still wins.
var wellKnownParams = map[string]struct{ key, desc string }{
	"collect_ustack":     {"collect-ustack", "collect the user-space stack of each event"},
	"collect_build_id":   {"collect-build-id", "collect the build IDs of the stack's executables"},
	"collect_otel_stack": {"collect-otel-stack", "collect stacks for OpenTelemetry's eBPF profiler"},
}

func (g *Gadget) findParams() error {
	var vars []string
	for t, err := range g.spec.Types.All() {
		if err != nil {
			return err
		}
		if v, ok := t.(*btf.Var); ok && strings.HasPrefix(v.Name, "gadget_param_") {
			vars = append(vars, strings.TrimPrefix(v.Name, "gadget_param_"))
		}
	}
	sort.Strings(vars)
	for _, name := range vars {
		vs, ok := g.spec.Variables[name]
		if !ok {
			return fmt.Errorf("gadget %s: GADGET_PARAM(%s) names no global variable; declare `const volatile <type> %s = <default>;`", g.Name, name, name)
		}
		p, err := paramFromVar(vs)
		if err != nil {
			return fmt.Errorf("gadget %s: param %s: %w", g.Name, name, err)
		}
		p.Source = ParamEBPF
		if wk, ok := wellKnownParams[name]; ok && p.Kind == datasource.KindBool {
			p.Key, p.Description = wk.key, wk.desc
		}
		if mp := g.Meta.Params.EBPF[name]; mp != nil {
			if mp.Key != "" {
				p.Key = mp.Key
			}
			if mp.Description != "" {
				p.Description = mp.Description
			}
			p.PossibleValues = mp.PossibleValues
			if mp.DefaultValue != "" {
				if _, err := p.encode(mp.DefaultValue); err != nil {
					return fmt.Errorf("gadget %s: gadget.yaml: params.ebpf.%s.defaultValue: %w", g.Name, name, err)
				}
				p.Default = mp.DefaultValue
			}
		}
		g.Params = append(g.Params, p)
	}
	for _, fp := range filterParams {
		vs, ok := g.spec.Variables[fp.variable]
		if !ok {
			continue
		}
		p, err := paramFromVar(vs)
		if err != nil {
			return fmt.Errorf("gadget %s: filter %s: %w", g.Name, fp.variable, err)
		}
		p.Key, p.Source, p.Description, p.Default = fp.key, ParamFilter, fp.desc, ""
		g.Params = append(g.Params, p)
	}
	if len(g.MapIters) > 0 {
		g.Params = append(g.Params, &Param{Key: MapFetchIntervalParam, Source: ParamRuntime,
			Kind: datasource.KindString, Default: "1s", typeName: "duration", check: checkFetchInterval,
			Description: "how often to dump the gadget's maps (each dump holds what happened since the last one; 0: only when the run stops)"})
	}
	var wkeys []string
	for k := range g.Meta.Params.WASM {
		wkeys = append(wkeys, k)
	}
	sort.Strings(wkeys)
	for _, k := range wkeys {
		mp := g.Meta.Params.WASM[k]
		key := k
		if mp != nil && mp.Key != "" {
			key = mp.Key
		}
		p := &Param{Key: key, Source: ParamWASM, Kind: datasource.KindString}
		if mp != nil {
			p.Default, p.Description, p.PossibleValues = mp.DefaultValue, mp.Description, mp.PossibleValues
			// WASM params have no BTF type: gadget.yaml's typeHint gives bools their switch
			// form (--stream) and numbers their validation.
			switch mp.TypeHint {
			case "bool":
				p.Kind, p.Size = datasource.KindBool, 1
			case "int", "int32":
				p.Kind, p.Size = datasource.KindInt32, 4
			case "int64":
				p.Kind, p.Size = datasource.KindInt64, 8
			case "uint", "uint32":
				p.Kind, p.Size = datasource.KindUint32, 4
			case "uint64":
				p.Kind, p.Size = datasource.KindUint64, 8
			}
		}
		g.Params = append(g.Params, p)
	}
	seen := map[string]bool{}
	for _, p := range g.Params {
		if seen[p.Key] {
			return fmt.Errorf("gadget %s: two parameters use the key %q; give one another key in gadget.yaml", g.Name, p.Key)
		}
		seen[p.Key] = true
	}
	return nil
}

func paramFromVar(vs *ebpf.VariableSpec) (*Param, error) {
	p := &Param{Key: vs.Name, Variable: vs.Name}
	if vs.Type == nil {
		return nil, fmt.Errorf("variable %s has no BTF type", vs.Name)
	}
	t := btf.UnderlyingType(vs.Type.Type)
	for {
		switch tt := t.(type) {
		case *btf.Volatile:
			t = btf.UnderlyingType(tt.Type)
			continue
		case *btf.Const:
			t = btf.UnderlyingType(tt.Type)
			continue
		}
		break
	}
	switch tt := t.(type) {
	case *btf.Int:
		p.Size = int(tt.Size)
		switch {
		case tt.Encoding&btf.Bool != 0:
			p.Kind = datasource.KindBool
		case tt.Encoding&btf.Signed != 0:
			p.Kind = []datasource.Kind{1: datasource.KindInt8, 2: datasource.KindInt16, 4: datasource.KindInt32, 8: datasource.KindInt64}[tt.Size]
		default:
			p.Kind = []datasource.Kind{1: datasource.KindUint8, 2: datasource.KindUint16, 4: datasource.KindUint32, 8: datasource.KindUint64}[tt.Size]
		}
	case *btf.Enum:
		p.Size, p.Kind = int(tt.Size), datasource.KindInt64
		p.Enum = map[string]int64{}
		for _, v := range tt.Values {
			p.Enum[v.Name] = int64(v.Value)
		}
	case *btf.Array:
		if i, ok := btf.UnderlyingType(tt.Type).(*btf.Int); ok && i.Size == 1 {
			p.Kind, p.Size = datasource.KindCString, int(tt.Nelems)
			break
		}
		return nil, fmt.Errorf("variable %s: arrays other than char[N] cannot be parameters", vs.Name)
	default:
		return nil, fmt.Errorf("variable %s: type %s cannot be a parameter (use an integer, bool, enum or char[N])", vs.Name, t)
	}
	if p.Kind == datasource.KindInvalid {
		return nil, fmt.Errorf("variable %s: unsupported integer size", vs.Name)
	}
	if len(vs.Value) >= p.Size && p.Size > 0 {
		p.Default = p.decode(vs.Value[:p.Size])
	}
	return p, nil
}

func (p *Param) decode(b []byte) string {
	switch p.Kind {
	case datasource.KindBool:
		return strconv.FormatBool(b[0] != 0)
	case datasource.KindCString:
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	var u uint64
	for i := p.Size - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	if p.Kind.Signed() || p.Enum != nil {
		shift := 64 - 8*p.Size
		v := int64(u<<shift) >> shift
		for n, ev := range p.Enum {
			if ev == v {
				return n
			}
		}
		return strconv.FormatInt(v, 10)
	}
	return strconv.FormatUint(u, 10)
}

// encode converts text to the variable's bytes, or says what is wrong with it.
func (p *Param) encode(s string) ([]byte, error) {
	if p.check != nil {
		return nil, p.check(s)
	}
	b := make([]byte, p.Size)
	switch {
	case p.Kind == datasource.KindString:
		return []byte(s), nil
	case p.Kind == datasource.KindCString:
		if len(s) >= p.Size {
			return nil, fmt.Errorf("%q is %d bytes long; at most %d fit", s, len(s), p.Size-1)
		}
		copy(b, s)
		return b, nil
	case p.Kind == datasource.KindBool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool (use true or false)", s)
		}
		if v {
			b[0] = 1
		}
		return b, nil
	case p.Enum != nil:
		v, ok := p.Enum[s]
		if !ok {
			n, err := strconv.ParseInt(s, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not one of %s", s, p.TypeName())
			}
			v = n
		}
		putUint(b, uint64(v))
		return b, nil
	case p.Kind.Signed():
		v, err := strconv.ParseInt(s, 0, 8*p.Size)
		if err != nil {
			return nil, fmt.Errorf("%q is not an %s number", s, p.Kind)
		}
		putUint(b, uint64(v))
		return b, nil
	default:
		v, err := strconv.ParseUint(s, 0, 8*p.Size)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s number (0 to %d)", s, p.Kind, uint64(math.MaxUint64)>>(64-8*p.Size))
		}
		putUint(b, v)
		return b, nil
	}
}

func putUint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b, v)
	}
}

// Validate checks a value for the parameter, with an error naming the gadget and the param.
func (g *Gadget) Validate(key, value string) error {
	p := g.Param(key)
	if p == nil {
		var keys []string
		for _, q := range g.Params {
			keys = append(keys, q.Key)
		}
		return fmt.Errorf("gadget %s has no parameter %q (parameters: %s)", g.Name, key, strings.Join(keys, ", "))
	}
	if _, err := p.encode(value); err != nil {
		return fmt.Errorf("gadget %s: --%s: %w", g.Name, key, err)
	}
	if len(p.PossibleValues) > 0 && !slices.Contains(p.PossibleValues, value) {
		return fmt.Errorf("gadget %s: --%s: %q is not one of %s", g.Name, key, value, strings.Join(p.PossibleValues, ", "))
	}
	return nil
}

// minFetchInterval is the shortest map-fetch-interval: each dump walks the whole map.
const minFetchInterval = 10 * time.Millisecond

// parseFetchInterval reads a map-fetch-interval: a duration (500ms, 2s) or seconds (1.5).
func parseFetchInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("%q is not a duration (use 500ms, 2s, or seconds like 1.5)", s)
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < 0 || d > 0 && d < minFetchInterval {
		return 0, fmt.Errorf("%q: want 0 (dump only when the run stops) or at least %s", s, minFetchInterval)
	}
	return d, nil
}

func checkFetchInterval(s string) error {
	_, err := parseFetchInterval(s)
	return err
}
