package wasmapi

import (
	"errors"
)

// ErrDrop, returned by a data callback, drops the event: later subscribers and the output
// never see it, and the run counts it.
var ErrDrop = errors.New("drop event")

// DataSourceType says whether a data source emits single events or arrays.
type DataSourceType uint32

// Data source types.
const (
	DataSourceTypeSingle DataSourceType = 1
	DataSourceTypeArray  DataSourceType = 2
)

// DataSource is a handle to a stream of events.
type DataSource uint32

// Data is a handle to one event. It is valid only during the callback that received it (or
// until the packet that holds it is emitted or released).
type Data uint32

// DataArray is a handle to the events of an array data source.
type DataArray uint32

// Packet is a new event or array of events a gadget emits on its own data source.
type Packet uint32

// GetDataSource returns the data source called name (e.g. the one of a GADGET_TRACER).
func GetDataSource(name string) (DataSource, error) {
	h := getDataSource(strArg(name))
	keepStr(name)
	if h == 0 {
		return 0, fail("data source " + name)
	}
	return DataSource(h), nil
}

// NewDataSource creates a data source the gadget emits events on.
func NewDataSource(name string, typ DataSourceType) (DataSource, error) {
	h := newDataSource(strArg(name), uint32(typ))
	keepStr(name)
	if h == 0 {
		return 0, fail("new data source " + name)
	}
	return DataSource(h), nil
}

type callback struct {
	single func(DataSource, Data) error
	array  func(DataSource, DataArray) error
	packet func(DataSource, Packet) error
}

var callbacks []callback

func subscribe(ds DataSource, typ uint32, prio int, cb callback) error {
	callbacks = append(callbacks, cb)
	id := uint64(len(callbacks) - 1)
	if dataSourceSubscribe(uint32(ds), typ, uint32(int32(prio)), id) != 0 {
		callbacks = callbacks[:id]
		return fail("subscribe")
	}
	return nil
}

// Subscribe calls fn for every event of a single data source. Lower prio runs earlier; equal
// priorities run in subscription order. fn returns ErrDrop to drop the event. Subscribe from
// OnInit, before events flow.
func (ds DataSource) Subscribe(fn func(ds DataSource, data Data) error, prio int) error {
	if err := subscribe(ds, 1, prio, callback{single: fn}); err != nil {
		return err
	}
	fcSubscribed(ds)
	return nil
}

// SubscribeArray calls fn for every array an array data source emits.
func (ds DataSource) SubscribeArray(fn func(ds DataSource, arr DataArray) error, prio int) error {
	return subscribe(ds, 2, prio, callback{array: fn})
}

// SubscribePacket calls fn for every packet (single event or array) of ds.
func (ds DataSource) SubscribePacket(fn func(ds DataSource, p Packet) error, prio int) error {
	return subscribe(ds, 3, prio, callback{packet: fn})
}

// dispatch runs callback cbID on record or array data of ds. batched: the record is one of a
// batch, whose field copy dispatchBatch already pointed at.
func dispatch(cbID uint64, ds, data uint32, batched bool) uint32 {
	if cbID >= uint64(len(callbacks)) {
		Log(LevelError, "dataSourceCallback: unknown callback id")
		return 0
	}
	cb := &callbacks[cbID] // not a copy: in a guest a struct copy is a memory.copy, a call of its own
	var err error
	switch {
	case cb.single != nil:
		if !batched {
			fcEnter(DataSource(ds), Data(data))
		}
		err = cb.single(DataSource(ds), Data(data))
	case cb.array != nil:
		err = cb.array(DataSource(ds), DataArray(data))
	case cb.packet != nil:
		if !batched {
			fcEnter(DataSource(ds), Data(data)) // a single record: the buffer may hold it too
		}
		err = cb.packet(DataSource(ds), Packet(data))
	}
	fcCur = nil
	if err == nil {
		return 0
	}
	return callbackError(err)
}

// callbackError returns a data callback's result for its error: 1 (drop) for ErrDrop, else 0,
// having logged the error.
//
//go:noinline
func callbackError(err error) uint32 {
	if err == ErrDrop || errors.Is(err, ErrDrop) {
		return 1
	}
	Log(LevelWarn, "data callback: "+err.Error())
	return 0
}

// GetField returns the field called name (dotted for nested fields: "proc.pid").
func (ds DataSource) GetField(name string) (Field, error) {
	h := dataSourceGetField(uint32(ds), strArg(name))
	keepStr(name)
	if h == 0 {
		return 0, fail("field " + name)
	}
	fcLookedUp(ds, Field(h))
	return Field(h), nil
}

// AddField adds a field of the given kind to every event of ds.
func (ds DataSource) AddField(name string, kind FieldKind) (Field, error) {
	h := dataSourceAddField(uint32(ds), strArg(name), uint32(kind))
	keepStr(name)
	if h == 0 {
		return 0, fail("add field " + name)
	}
	fcAdded(ds, Field(h), kind)
	return Field(h), nil
}

// NewPacketSingle returns a new event of a single data source; fill it with Field setters
// (a Packet converts to Data) and emit it with EmitAndRelease.
func (ds DataSource) NewPacketSingle() (Packet, error) {
	h := dataSourceNewPacketSingle(uint32(ds))
	if h == 0 {
		return 0, fail("new packet")
	}
	return Packet(h), nil
}

// NewPacketArray returns a new, empty array of events of an array data source; add events
// with DataArray(p).New and Append.
func (ds DataSource) NewPacketArray() (Packet, error) {
	h := dataSourceNewPacketArray(uint32(ds))
	if h == 0 {
		return 0, fail("new packet array")
	}
	return Packet(h), nil
}

// EmitAndRelease emits p to ds's subscribers and releases it.
func (ds DataSource) EmitAndRelease(p Packet) error {
	return check(dataSourceEmitAndRelease(uint32(ds), uint32(p)), "emit")
}

// Release releases p without emitting it.
func (ds DataSource) Release(p Packet) error {
	return check(dataSourceRelease(uint32(ds), uint32(p)), "release")
}

// Unreference tells the host nobody downstream needs ds (it is not shown).
func (ds DataSource) Unreference() error {
	return check(dataSourceUnreference(uint32(ds)), "unreference")
}

// IsReferenced reports whether anything downstream uses ds.
func (ds DataSource) IsReferenced() bool { return dataSourceIsReferenced(uint32(ds)) == 1 }

// New returns a new event for the array; add it with Append.
func (a DataArray) New() (Data, error) {
	h := dataArrayNew(uint32(a))
	if h == 0 {
		return 0, fail("array new")
	}
	return Data(h), nil
}

// Append appends d (from New) to the array; d must not be used afterwards.
func (a DataArray) Append(d Data) error {
	return check(dataArrayAppend(uint32(a), uint32(d)), "array append")
}

// Release releases d (from New) without appending it.
func (a DataArray) Release(d Data) error {
	return check(dataArrayRelease(uint32(a), uint32(d)), "array release")
}

// Len returns the number of events in the array.
func (a DataArray) Len() int { return int(dataArrayLen(uint32(a))) }

// Get returns the event at index i.
func (a DataArray) Get(i int) (Data, error) {
	h := dataArrayGet(uint32(a), uint32(i))
	if h == 0 {
		return 0, fail("array get")
	}
	return Data(h), nil
}
