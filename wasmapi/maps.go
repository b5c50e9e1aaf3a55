package wasmapi

// MapType is a BPF map type (the kernel's enum bpf_map_type).
type MapType uint32

// Common map types.
const (
	MapTypeHash       MapType = 1
	MapTypeArray      MapType = 2
	MapTypePerfEvent  MapType = 4
	MapTypePerCPUHash MapType = 5
	MapTypeRingBuf    MapType = 27
)

// MapUpdateFlags say when an update may happen (the kernel's BPF_ANY, BPF_NOEXIST, BPF_EXIST).
type MapUpdateFlags uint64

// Update flags.
const (
	UpdateAny     MapUpdateFlags = 0
	UpdateNoExist MapUpdateFlags = 1
	UpdateExist   MapUpdateFlags = 2
)

// Map is a handle to a BPF map.
type Map uint32

// MapSpec describes a map to create with NewMap.
type MapSpec struct {
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
}

// GetMap returns the map called name of the gadget's eBPF collection. Maps exist from
// OnStart on; release the handle with Release when done.
func GetMap(name string) (Map, error) {
	h := getMap(strArg(name))
	keepStr(name)
	if h == 0 {
		return 0, fail("map " + name)
	}
	return Map(h), nil
}

// NewMap creates a BPF map owned by the gadget; close it with Close.
func NewMap(spec MapSpec) (Map, error) {
	h := newMap(strArg(spec.Name), uint32(spec.Type), spec.KeySize, spec.ValueSize, spec.MaxEntries)
	keepStr(spec.Name)
	if h == 0 {
		return 0, fail("new map " + spec.Name)
	}
	return Map(h), nil
}

// Lookup reads the value of key into value, which must hold at least the map's value size.
func (m Map) Lookup(key, value []byte) error {
	err := check(mapLookup(uint32(m), bufArg(key), bufArg(value)), "map lookup")
	keepBuf(key)
	keepBuf(value)
	return err
}

// Update sets key to value.
func (m Map) Update(key, value []byte, flags MapUpdateFlags) error {
	err := check(mapUpdate(uint32(m), bufArg(key), bufArg(value), uint64(flags)), "map update")
	keepBuf(key)
	keepBuf(value)
	return err
}

// Put sets key to value, creating or replacing it.
func (m Map) Put(key, value []byte) error { return m.Update(key, value, UpdateAny) }

// Delete removes key.
func (m Map) Delete(key []byte) error {
	err := check(mapDelete(uint32(m), bufArg(key)), "map delete")
	keepBuf(key)
	return err
}

// Close closes a map made by NewMap.
func (m Map) Close() error { return check(mapRelease(uint32(m)), "map release") }

// Release releases the handle of a map from GetMap (the map itself stays).
func (m Map) Release() error { return ReleaseHandle(uint32(m)) }

// ReleaseHandle releases any handle the host gave.
func ReleaseHandle(h uint32) error { return check(releaseHandle(h), "release handle") }
