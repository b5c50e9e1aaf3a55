package datasource

import (
	"errors"
	"fmt"
	"sort"
)

// Type says whether a data source emits single records or arrays of records.
type Type uint32

// Data source types; the numbers are those of the WASM ABI.
const (
	TypeSingle Type = 1
	TypeArray  Type = 2
)

// ErrDrop is returned by a subscriber that wants the record dropped: later subscribers and
// output never see it, and the run counts it.
var ErrDrop = errors.New("record dropped")

// Subscriber is called for each record of a data source, in priority order (for an array data
// source: for each record of each array, before the array subscribers).
type Subscriber func(ds *DataSource, d *Data) error

// ArraySubscriber is called for each array of records of an array data source.
type ArraySubscriber func(ds *DataSource, arr []*Data) error

// BatchSubscriber is called with records of a single data source read together (EmitBatch).
// It returns the records it keeps: batch compacted in place, in order, without those it
// drops.
type BatchSubscriber func(ds *DataSource, batch []*Data) (kept []*Data, err error)

type subscription struct {
	prio    int
	seq     int
	fn      Subscriber
	arrFn   ArraySubscriber
	batchFn BatchSubscriber
}

// DataSource describes the records of one stream and delivers them to subscribers.
type DataSource struct {
	// Name is the data source's name, e.g. "exec".
	Name string
	// Type is TypeSingle or TypeArray.
	Type Type
	// Annotations come from gadget.yaml's datasources.<name>.annotations.
	Annotations map[string]string

	fields     []*Field
	byName     map[string]*Field
	recordSize int
	nslots     int
	subs       []subscription
}

// New returns an empty data source whose static records are recordSize bytes long.
func New(name string, typ Type, recordSize int) *DataSource {
	return &DataSource{
		Name:        name,
		Type:        typ,
		Annotations: map[string]string{},
		byName:      map[string]*Field{},
		recordSize:  recordSize,
	}
}

// RecordSize is the size of the raw record that static fields index into.
func (ds *DataSource) RecordSize() int { return ds.recordSize }

// Fields returns the fields in declaration order. The slice must not be modified.
func (ds *DataSource) Fields() []*Field { return ds.fields }

// Field returns the field with the given full (dotted) name, or nil.
func (ds *DataSource) Field(name string) *Field { return ds.byName[name] }

func (ds *DataSource) add(f *Field) (*Field, error) {
	if f.Name == "" {
		return nil, fmt.Errorf("data source %q: field with empty name", ds.Name)
	}
	if _, dup := ds.byName[f.Name]; dup {
		return nil, fmt.Errorf("data source %q: field %q already exists", ds.Name, f.Name)
	}
	if f.Annotations == nil {
		f.Annotations = map[string]string{}
	}
	f.ds = ds
	f.index = len(ds.fields)
	ds.fields = append(ds.fields, f)
	ds.byName[f.Name] = f
	return f, nil
}

// AddStaticField adds a field that lives at [offset, offset+size) of the raw record.
func (ds *DataSource) AddStaticField(name string, kind Kind, offset, size int) (*Field, error) {
	if offset < 0 || size < 0 || offset+size > ds.recordSize {
		return nil, fmt.Errorf("data source %q: field %q at %d+%d lies outside the %d-byte record",
			ds.Name, name, offset, size, ds.recordSize)
	}
	if fixed := kind.Size(); fixed > 0 && fixed != size {
		return nil, fmt.Errorf("data source %q: field %q of kind %s has size %d, want %d",
			ds.Name, name, kind, size, fixed)
	}
	return ds.add(&Field{Name: name, Kind: kind, offset: offset, size: size, static: true, slot: -1})
}

// AddField adds a field whose value is kept beside the raw record (added by a guest or by
// enrichment). Records created before the call have the field empty.
func (ds *DataSource) AddField(name string, kind Kind) (*Field, error) {
	if kind == KindInvalid || kind > KindBytes {
		return nil, fmt.Errorf("data source %q: field %q: invalid kind %d", ds.Name, name, kind)
	}
	f, err := ds.add(&Field{Name: name, Kind: kind, slot: ds.nslots})
	if err != nil {
		return nil, err
	}
	ds.nslots++
	return f, nil
}

// NewData returns an empty record (raw bytes zeroed).
func (ds *DataSource) NewData() *Data {
	return &Data{Raw: make([]byte, ds.recordSize), slots: make([]slot, ds.nslots)}
}

// Reset clears d for reuse, keeping its buffers. Raw is resized to the record size.
func (ds *DataSource) Reset(d *Data) {
	if cap(d.Raw) >= ds.recordSize {
		d.Raw = d.Raw[:ds.recordSize]
		clear(d.Raw)
	} else {
		d.Raw = make([]byte, ds.recordSize)
	}
	if cap(d.slots) >= ds.nslots {
		d.slots = d.slots[:ds.nslots]
		for i := range d.slots {
			d.slots[i] = slot{buf: d.slots[i].buf[:0]}
		}
	} else {
		d.slots = make([]slot, ds.nslots)
	}
}

// Subscribe registers fn for every record of the data source (of an array data source: for
// every record of every array, see EmitArray). Lower prio runs first; equal priorities run in
// subscription order.
func (ds *DataSource) Subscribe(prio int, fn Subscriber) {
	ds.subs = append(ds.subs, subscription{prio: prio, seq: len(ds.subs), fn: fn})
	sort.SliceStable(ds.subs, func(i, j int) bool { return ds.subs[i].prio < ds.subs[j].prio })
}

// batchOne passes one record to a batch subscriber registered without a record function.
func (s subscription) batchOne(ds *DataSource, d *Data) error {
	kept, err := s.batchFn(ds, []*Data{d})
	if err == nil && len(kept) == 0 {
		err = ErrDrop
	}
	return err
}

// SubscribeBatch registers a subscriber that handles the records of a batch (EmitBatch) in
// one call, batch, and single records (Emit, EmitArray) with fn, which must mean the same
// (a nil fn: batch is called with one record).
func (ds *DataSource) SubscribeBatch(prio int, fn Subscriber, batch BatchSubscriber) {
	ds.subs = append(ds.subs, subscription{prio: prio, seq: len(ds.subs), fn: fn, batchFn: batch})
	sort.SliceStable(ds.subs, func(i, j int) bool { return ds.subs[i].prio < ds.subs[j].prio })
}

// SubscribeArray registers fn for every array an array data source emits.
func (ds *DataSource) SubscribeArray(prio int, fn ArraySubscriber) {
	ds.subs = append(ds.subs, subscription{prio: prio, seq: len(ds.subs), arrFn: fn})
	sort.SliceStable(ds.subs, func(i, j int) bool { return ds.subs[i].prio < ds.subs[j].prio })
}

// Subscribed reports whether anything subscribed to ds.
func (ds *DataSource) Subscribed() bool { return len(ds.subs) > 0 }

// Emit passes d to the subscribers in order. It returns dropped=true when one returned ErrDrop,
// and the first other error a subscriber returned.
func (ds *DataSource) Emit(d *Data) (dropped bool, err error) {
	for _, s := range ds.subs {
		fn := s.fn
		if fn == nil && s.batchFn != nil {
			fn = s.batchOne
		}
		if fn == nil {
			continue
		}
		if err := fn(ds, d); err != nil {
			if errors.Is(err, ErrDrop) {
				return true, nil
			}
			return false, err
		}
	}
	return false, nil
}

// EmitBatch delivers records of a single data source read together: each subscriber, in
// priority order, sees every record the earlier ones kept (a batch subscriber in one call,
// the others one record at a time), and a record one of them drops (ErrDrop) reaches none
// after it. Unlike Emit, a subscriber sees the whole batch before the next one sees any of
// it. EmitBatch compacts batch in place and returns the records every subscriber kept, and
// the first error a subscriber returned other than ErrDrop.
func (ds *DataSource) EmitBatch(batch []*Data) (kept []*Data, err error) {
	for _, s := range ds.subs {
		if len(batch) == 0 {
			return batch, nil
		}
		switch {
		case s.batchFn != nil:
			if batch, err = s.batchFn(ds, batch); err != nil {
				return nil, err
			}
		case s.fn != nil:
			if batch, err = Keep(ds, batch, s.fn); err != nil {
				return nil, err
			}
		}
	}
	return batch, nil
}

// Keep passes the records of batch to fn one at a time and returns those it kept (did not
// drop with ErrDrop): batch compacted in place. It stops at fn's first other error.
func Keep(ds *DataSource, batch []*Data, fn Subscriber) ([]*Data, error) {
	kept := batch[:0]
	for _, d := range batch {
		if err := fn(ds, d); err != nil {
			if !errors.Is(err, ErrDrop) {
				return nil, err
			}
			continue
		}
		kept = append(kept, d)
	}
	return kept, nil
}

// EmitArray delivers one array of records. Record subscribers (Subscribe) see each record
// first, in priority order, and a record one of them drops (ErrDrop) is removed from the array:
// per-record stages such as container enrichment and selection work on arrays unchanged. Then
// the array subscribers (SubscribeArray) get what is left, in priority order; one returning
// ErrDrop drops the whole array. EmitArray compacts arr in place and returns the records that
// reached every array subscriber (nil when the array was dropped), and the first other error a
// subscriber returned.
func (ds *DataSource) EmitArray(arr []*Data) (kept []*Data, err error) {
	kept = arr[:0]
	for _, d := range arr {
		dropped, err := ds.Emit(d)
		if err != nil {
			return nil, err
		}
		if !dropped {
			kept = append(kept, d)
		}
	}
	for _, s := range ds.subs {
		if s.arrFn == nil {
			continue
		}
		if err := s.arrFn(ds, kept); err != nil {
			if errors.Is(err, ErrDrop) {
				return nil, nil
			}
			return nil, err
		}
	}
	return kept, nil
}
