package runtime

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/attach"
	"github.com/gadgetry/gadgetry/runtime/sockets"
)

// Load-time conventions of Inspektor Gadget's gadgets (gadget-abi §3):
//
//   - A map declared with max_entries 0 is sized from the `const volatile` global
//     `<map>_max_entries` (usually a GADGET_PARAM, so the user can change it). Every map that
//     has such a global takes its size from it.
//   - A map declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` is pinned at
//     PinRoot/<map name>: the first gadget creates and pins it, later ones (at once or in
//     later runs) reuse it when it is compatible, so gadgets share it. Pinned maps outlive the
//     run, as in IG.
//   - A gadget that includes <gadget/sockets-map.h> has the map gadget_sockets, which the
//     runtime fills (package sockets): its values are the runtime's gadget_socket_value, which
//     the gadget reads through CO-RE relocations.

// PinRoot is the bpffs directory maps pinned by name live in (IG's).
const PinRoot = "/sys/fs/bpf"

// maxEntriesSuffix names the global that sizes a map: "<map>" + maxEntriesSuffix.
const maxEntriesSuffix = "_max_entries"

// sizeMaps sets the size of each map of spec that has a `<map>_max_entries` global, from that
// global's value in spec (after the run's parameters were written into it). A map left with
// no size is an error naming the parameter to set.
func (g *Gadget) sizeMaps(spec *ebpf.CollectionSpec) error {
	names := make([]string, 0, len(spec.Maps))
	for name := range spec.Maps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ms := spec.Maps[name]
		vs, ok := spec.Variables[name+maxEntriesSuffix]
		if !ok {
			continue
		}
		n, err := variableUint(vs.Value)
		if err != nil {
			return fmt.Errorf("gadget %s: map %s is sized by %s%s: %w", g.Name, name, name, maxEntriesSuffix, err)
		}
		if n == 0 || n > 1<<32-1 {
			return fmt.Errorf("gadget %s: map %s is sized by %s%s, which is %d: %s", g.Name, name, name, maxEntriesSuffix, n, g.sizeHint(name))
		}
		ms.MaxEntries = uint32(n)
	}
	return nil
}

// sizeHint says how a user sets a map's size.
func (g *Gadget) sizeHint(mapName string) string {
	for _, p := range g.Params {
		if p.Variable == mapName+maxEntriesSuffix {
			return fmt.Sprintf("give --%s a size between 1 and 4294967295", p.Key)
		}
	}
	return fmt.Sprintf("give the global %s%s a size between 1 and 4294967295 in the program", mapName, maxEntriesSuffix)
}

// sizeTemplate sizes the maps of the gadget's template spec with its parameters' defaults, so
// that a run that does not change them needs nothing more.
func (g *Gadget) sizeTemplate() error {
	tmp := &ebpf.CollectionSpec{Maps: g.spec.Maps, Variables: map[string]*ebpf.VariableSpec{}}
	for mapName := range g.spec.Maps {
		name := mapName + maxEntriesSuffix
		vs, ok := g.spec.Variables[name]
		if !ok {
			continue
		}
		v := &ebpf.VariableSpec{Value: append([]byte(nil), vs.Value...)}
		for _, p := range g.Params {
			if p.Variable == name && p.Source != ParamFilter && p.Default != "" {
				b, err := p.encode(p.Default)
				if err != nil {
					return fmt.Errorf("gadget %s: --%s default: %w", g.Name, p.Key, err)
				}
				copy(v.Value, b)
			}
		}
		tmp.Variables[name] = v
	}
	return g.sizeMaps(tmp)
}

// variableUint reads a global's value as an unsigned number (1, 2, 4 or 8 bytes, the BPF
// object's little-endian order); negative values of signed globals come out huge.
func variableUint(b []byte) (uint64, error) {
	switch len(b) {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		v := binary.LittleEndian.Uint32(b)
		if int32(v) < 0 {
			return uint64(int64(int32(v))), nil
		}
		return uint64(v), nil
	case 8:
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("a %d-byte global is not a number", len(b))
}

// pinPath returns the directory for spec's maps pinned by name (PinRoot) after checking it is a
// bpffs, or "" when no map is pinned.
func pinPath(spec *ebpf.CollectionSpec) (string, error) {
	var pinned []string
	for name, ms := range spec.Maps {
		if ms.Pinning == ebpf.PinByName {
			pinned = append(pinned, name)
		}
	}
	if len(pinned) == 0 {
		return "", nil
	}
	sort.Strings(pinned)
	var st unix.Statfs_t
	if err := unix.Statfs(PinRoot, &st); err != nil || st.Type != unix.BPF_FS_MAGIC {
		return "", fmt.Errorf("maps %v are pinned by name, which needs a bpffs at %s: mount it (mount -t bpf bpf %s)", pinned, PinRoot, PinRoot)
	}
	return PinRoot, nil
}

// prepareLoad applies the conventions above to a run's spec (after its parameters were written
// into it) and to the options it is loaded with.
func (g *Gadget) prepareLoad(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions) error {
	if err := g.sizeMaps(spec); err != nil {
		return err
	}
	p, err := pinPath(spec)
	if err != nil {
		return fmt.Errorf("gadget %s: %w", g.Name, err)
	}
	if p != "" && opts.Maps.PinPath == "" {
		opts.Maps.PinPath = p
	}
	// <gadget/sockets-map.h>: the runtime's gadget_socket_value, filled by the socket enricher.
	if _, err := sockets.Prepare(spec, opts); err != nil {
		return fmt.Errorf("gadget %s: %w", g.Name, err)
	}
	return nil
}

// startSockets fills the run's gadget_sockets map, if the gadget has one, until the run ends
// (package sockets). The enricher writes through its own descriptor of the map.
func (r *Run) startSockets() error {
	m := r.coll.Maps[sockets.MapName]
	if m == nil {
		return nil
	}
	m, err := m.Clone()
	if err != nil {
		return fmt.Errorf("gadget %s: map %s: %w", r.g.Name, sockets.MapName, err)
	}
	e, err := sockets.Start(m, func(msg string) { r.rt.log.Warn(fmt.Sprintf("gadget %s: %s", r.g.Name, msg)) })
	if err != nil {
		m.Close()
		return fmt.Errorf("gadget %s: %w", r.g.Name, err)
	}
	r.onClose = append(r.onClose, func() {
		e.Stop()
		m.Close()
	})
	return nil
}

// PinnedMaps returns the paths of the gadget's maps pinned by name (which outlive its runs).
func (g *Gadget) PinnedMaps() []string {
	var out []string
	for name, ms := range g.spec.Maps {
		if ms.Pinning == ebpf.PinByName {
			out = append(out, filepath.Join(PinRoot, name))
		}
	}
	sort.Strings(out)
	return out
}

// attachOptions are what attaching p needs beyond its section: a perf_event program's event;
// the map a map-element iterator walks (GADGET_ITER_TARGET_MAP);
// for packet programs, the network namespace their skb->cb[0] holds (IG's dispatcher
// convention, attach/dispatch.go).
func (r *Run) attachOptions(p *Program) attach.Options {
	opts := attach.Options{Perf: p.Perf}
	if p.IterMap != "" {
		opts.IterMap = r.coll.Maps[p.IterMap]
	}
	if isUprobe(p.Kind) {
		opts.Roots, opts.FollowRoots = r.containerRoots()
	}
	if p.Kind == attach.SocketFilter || p.Kind == attach.Classifier {
		opts.Netns, _ = sockets.CurrentNetns() // unreadable: cb[0] stays 0
	}
	return opts
}
