package wasm

import (
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/tetratelabs/wazero/api"
)

// object returns the stable handle of a data source or field.
func (i *Instance) object(k kind, o any) uint32 {
	if h, ok := i.objects[o]; ok {
		return h
	}
	h := i.h.add(entry{kind: k, obj: o})
	i.objects[o] = h
	return h
}

func (i *Instance) dataSource(fn string, h uint32) (*datasource.DataSource, bool) {
	e, ok := i.handle(fn, h, kDataSource)
	if !ok {
		return nil, false
	}
	return e.obj.(*datasource.DataSource), true
}

func (i *Instance) dataSources(fn string) (DataSources, bool) {
	if i.env.DataSources == nil {
		i.bad(fn, "the run provides no data sources")
		return nil, false
	}
	return i.env.DataSources, true
}

func init() {
	register("newDataSource", []api.ValueType{i64, i32}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "newDataSource"
		name, ok := i.nonEmpty(mod, fn, s[0])
		s[0] = 0
		if !ok {
			return
		}
		typ := datasource.Type(uint32(s[1]))
		if typ != datasource.TypeSingle && typ != datasource.TypeArray {
			i.bad(fn, "data source %q: type %d is neither 1 (single) nor 2 (array)", name, typ)
			return
		}
		dss, ok := i.dataSources(fn)
		if !ok {
			return
		}
		ds, err := dss.NewDataSource(name, typ)
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		s[0] = uint64(i.object(kDataSource, ds))
	})
	register("getDataSource", []api.ValueType{i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "getDataSource"
		name, ok := i.nonEmpty(mod, fn, s[0])
		s[0] = 0
		if !ok {
			return
		}
		var ds *datasource.DataSource
		if i.env.DataSources != nil {
			ds = i.env.DataSources.DataSource(name)
		}
		if ds == nil && name == ContainersDataSource {
			ds = i.containersSource()
		}
		if ds == nil {
			if _, ok := i.dataSources(fn); ok {
				i.bad(fn, "no data source %q", name)
			}
			return
		}
		s[0] = uint64(i.object(kDataSource, ds))
	})
	register("dataSourceSubscribe", []api.ValueType{i32, i32, i32, i64}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataSourceSubscribe"
		dsh, typ, prio, cbID := uint32(s[0]), uint32(s[1]), int(int32(uint32(s[2]))), s[3]
		s[0] = 1
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		if i.callback == nil {
			i.bad(fn, "the module exports no dataSourceCallback")
			return
		}
		switch {
		case (typ == 1 || typ == 3) && ds.Type == datasource.TypeSingle:
			ds.SubscribeBatch(prio, i.recordSubscriber(ds, dsh, cbID), i.batchSubscriber(ds, dsh, cbID))
		case (typ == 2 || typ == 3) && ds.Type == datasource.TypeArray:
			ds.SubscribeArray(prio, i.arraySubscriber(ds, dsh, cbID))
		default:
			i.bad(fn, "subscription type %d does not fit data source %q (type %d)", typ, ds.Name, ds.Type)
			return
		}
		s[0] = 0
	})
	register("dataSourceGetField", []api.ValueType{i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "dataSourceGetField"
		dsh, packed := uint32(s[0]), s[1]
		s[0] = 0
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		name, ok := i.nonEmpty(mod, fn, packed)
		if !ok {
			return
		}
		f := ds.Field(name)
		if f == nil {
			i.bad(fn, "data source %q has no field %q", ds.Name, name)
			return
		}
		s[0] = uint64(i.object(kField, f))
	})
	register("dataSourceAddField", []api.ValueType{i32, i64, i32}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "dataSourceAddField"
		dsh, packed, k := uint32(s[0]), s[1], datasource.Kind(uint32(s[2]))
		s[0] = 0
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		name, ok := i.nonEmpty(mod, fn, packed)
		if !ok {
			return
		}
		f, err := ds.AddField(name, k)
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		f.Tags = append(f.Tags, "wasm")
		s[0] = uint64(i.object(kField, f))
	})
	register("dataSourceNewPacketSingle", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataSourceNewPacketSingle"
		dsh := uint32(s[0])
		s[0] = 0
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		if ds.Type != datasource.TypeSingle {
			i.bad(fn, "data source %q is an array data source", ds.Name)
			return
		}
		s[0] = uint64(i.h.add(entry{kind: kData, ds: ds, obj: ds.NewData(), packet: true}))
	})
	register("dataSourceNewPacketArray", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataSourceNewPacketArray"
		dsh := uint32(s[0])
		s[0] = 0
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		if ds.Type != datasource.TypeArray {
			i.bad(fn, "data source %q is a single data source", ds.Name)
			return
		}
		s[0] = uint64(i.h.add(entry{kind: kArray, ds: ds, obj: &array{}, packet: true}))
	})
	register("dataSourceEmitAndRelease", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = errCode(i.releasePacket("dataSourceEmitAndRelease", uint32(s[0]), uint32(s[1]), true))
	})
	register("dataSourceRelease", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = errCode(i.releasePacket("dataSourceRelease", uint32(s[0]), uint32(s[1]), false))
	})
	register("dataSourceUnreference", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataSourceUnreference"
		dsh := uint32(s[0])
		s[0] = 1
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		dss, ok := i.dataSources(fn)
		if !ok {
			return
		}
		if err := dss.Unreference(ds); err != nil {
			i.bad(fn, "%v", err)
			return
		}
		s[0] = 0
	})
	register("dataSourceIsReferenced", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataSourceIsReferenced"
		dsh := uint32(s[0])
		s[0] = 2
		ds, ok := i.dataSource(fn, dsh)
		if !ok {
			return
		}
		dss, ok := i.dataSources(fn)
		if !ok {
			return
		}
		s[0] = b2u(dss.IsReferenced(ds))
	})

	// arrays
	register("dataArrayNew", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataArrayNew"
		ah := uint32(s[0])
		s[0] = 0
		e, ok := i.handle(fn, ah, kArray)
		if !ok {
			return
		}
		d := e.ds.NewData()
		s[0] = uint64(i.h.add(entry{kind: kData, ds: e.ds, obj: d, packet: true}))
	})
	register("dataArrayAppend", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataArrayAppend"
		ah, dh := uint32(s[0]), uint32(s[1])
		s[0] = 1
		a, ok := i.handle(fn, ah, kArray)
		if !ok {
			return
		}
		if !a.packet {
			i.bad(fn, "array %d was received, not created: it cannot grow", ah)
			return
		}
		d, ok := i.handle(fn, dh, kData)
		if !ok {
			return
		}
		if d.ds != a.ds || !d.packet {
			i.bad(fn, "data %d was not made by dataArrayNew of this array's data source", dh)
			return
		}
		arr := a.obj.(*array)
		arr.items = append(arr.items, d.obj.(*datasource.Data))
		i.h.release(dh)
		s[0] = 0
	})
	register("dataArrayRelease", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataArrayRelease"
		ah, dh := uint32(s[0]), uint32(s[1])
		s[0] = 1
		if _, ok := i.handle(fn, ah, kArray); !ok {
			return
		}
		if _, ok := i.handle(fn, dh, kData); !ok {
			return
		}
		i.h.release(dh)
		s[0] = 0
	})
	register("dataArrayLen", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		a, ok := i.handle("dataArrayLen", uint32(s[0]), kArray)
		s[0] = 0
		if ok {
			s[0] = uint64(len(a.obj.(*array).items))
		}
	})
	register("dataArrayGet", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		const fn = "dataArrayGet"
		ah, idx := uint32(s[0]), uint32(s[1])
		s[0] = 0
		a, ok := i.handle(fn, ah, kArray)
		if !ok {
			return
		}
		items := a.obj.(*array).items
		if int(idx) >= len(items) {
			i.bad(fn, "index %d out of range (array of %d)", idx, len(items))
			return
		}
		h := i.h.add(entry{kind: kData, ds: a.ds, obj: items[idx], temp: !a.packet})
		if !a.packet {
			i.temps = append(i.temps, h)
		}
		s[0] = uint64(h)
	})
}

// releasePacket releases a packet handle, emitting it (after the guest call returns) when
// emit is set.
func (i *Instance) releasePacket(fn string, dsh, ph uint32, emit bool) bool {
	ds, ok := i.dataSource(fn, dsh)
	if !ok {
		return false
	}
	if ph == 0 || int(ph) > len(i.h.ents) {
		i.bad(fn, "handle %d is not a packet", ph)
		return false
	}
	e := i.h.ents[ph-1]
	if (e.kind != kData && e.kind != kArray) || !e.packet {
		i.bad(fn, "handle %d is not a packet (it is a %s)", ph, e.kind)
		return false
	}
	if e.ds != ds {
		i.bad(fn, "packet %d belongs to data source %q, not %q", ph, e.ds.Name, ds.Name)
		return false
	}
	i.h.release(ph)
	if emit {
		p := pendingEmit{ds: ds}
		if e.kind == kArray {
			p.array = e.obj.(*array).items
			if p.array == nil {
				p.array = []*datasource.Data{}
			}
		} else {
			p.data = e.obj.(*datasource.Data)
		}
		i.pending = append(i.pending, p)
	}
	return true
}
