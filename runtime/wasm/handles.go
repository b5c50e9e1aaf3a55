package wasm

import "github.com/gadgetry/gadgetry/runtime/datasource"

// kind is the type of object a handle refers to.
type kind uint8

const (
	kFree kind = iota
	kDataSource
	kField
	kData
	kArray
	kMap
	kPerfReader
)

var kindNames = [...]string{"free", "data source", "field", "data", "array", "map", "perf reader"}

func (k kind) String() string { return kindNames[k] }

// entry is one slot of the handle table.
type entry struct {
	kind kind
	// owned objects are closed when the handle is released (maps from newMap, perf readers).
	owned bool
	// packet marks data and arrays the guest created (dataSourceNewPacket*).
	packet bool
	// temp handles live for one callback.
	temp bool
	ds   *datasource.DataSource // for kData, kArray: the data source of the record
	obj  any
}

// array is the object behind a kArray handle.
type array struct {
	items []*datasource.Data
}

// handles is a per-instance table; handle h is index h-1. Freed slots are reused.
type handles struct {
	ents []entry
	free []uint32
}

func (t *handles) add(e entry) uint32 {
	if n := len(t.free); n > 0 {
		h := t.free[n-1]
		t.free = t.free[:n-1]
		t.ents[h-1] = e
		return h
	}
	t.ents = append(t.ents, e)
	return uint32(len(t.ents))
}

// get returns the entry of h if it is of kind k.
func (t *handles) get(h uint32, k kind) (*entry, bool) {
	if h == 0 || int(h) > len(t.ents) {
		return nil, false
	}
	e := &t.ents[h-1]
	if e.kind != k {
		return nil, false
	}
	return e, true
}

func (t *handles) release(h uint32) {
	if h == 0 || int(h) > len(t.ents) || t.ents[h-1].kind == kFree {
		return
	}
	t.ents[h-1] = entry{}
	t.free = append(t.free, h)
}
