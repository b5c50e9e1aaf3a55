// Guest full exercises every host function; it reports what it saw in log lines
// "result <key>=<value>" that the host test reads.
package main

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	api "github.com/gadgetry/gadgetry/wasmapi"
)

func result(key string, v any) { api.Infof("result %s=%v", key, v) }

func must(what string, err error) {
	if err != nil {
		result(what, "error")
	}
}

var (
	summary   api.DataSource
	arrOut    api.DataSource
	events    int
	countF    api.Field
	arrValF   api.Field
	commBuf   []byte
	dropComm  string
	phases    []string
	filterMap api.Map
	kernPerf  api.PerfReader
)

func phase(p string) { phases = append(phases, p); result("phases", strings.Join(phases, ",")) }

func init() {
	api.OnInit(func() error {
		phase("init")
		ds, err := api.GetDataSource("events")
		if err != nil {
			return err
		}
		pid, err := ds.GetField("pid")
		if err != nil {
			return err
		}
		comm, err := ds.GetField("comm")
		if err != nil {
			return err
		}
		pid2, err := ds.AddField("pid2", api.KindUint64)
		if err != nil {
			return err
		}
		upper, err := ds.AddField("upper", api.KindString)
		if err != nil {
			return err
		}
		must("tag", upper.AddTag("computed"))
		dropComm, _ = api.GetParamValue("drop")
		result("param.drop", dropComm)
		long, _ := api.GetParamValue("long")
		result("param.long.len", len(long))
		if _, err := api.GetParamValue("nope"); err != nil {
			result("param.nope", "missing")
		}
		if _, err := api.GetDataSource("nope"); err != nil {
			result("ds.nope", "missing")
		}
		if _, err := ds.GetField("nope"); err != nil {
			result("field.nope", "missing")
		}
		if _, err := api.GetMap("filter"); err != nil {
			result("map.before.start", "refused")
		}
		if err := ds.Subscribe(func(ds api.DataSource, d api.Data) error {
			p, err := pid.Uint32(d)
			if err != nil {
				return err
			}
			commBuf, err = comm.TextInto(d, commBuf)
			if err != nil {
				return err
			}
			if string(commBuf) == dropComm {
				return api.ErrDrop
			}
			events++
			if err := pid2.SetUint64(d, uint64(p)*2); err != nil {
				return err
			}
			if strings.HasPrefix(string(commBuf), "up") {
				return upper.SetString(d, strings.ToUpper(string(commBuf)))
			}
			return nil
		}, 0); err != nil {
			return err
		}
		if _, err := pid.String(0); err != nil {
			result("bad.data.handle", "refused")
		}

		arr, err := api.GetDataSource("arr")
		if err != nil {
			return err
		}
		val, err := arr.GetField("val")
		if err != nil {
			return err
		}
		if err := arr.SubscribeArray(func(ds api.DataSource, a api.DataArray) error {
			sum := uint32(0)
			for k := 0; k < a.Len(); k++ {
				d, err := a.Get(k)
				if err != nil {
					return err
				}
				v, _ := val.Uint32(d)
				sum += v
			}
			result("array.sum", sum)
			if _, err := a.Get(a.Len()); err != nil {
				result("array.oob", "refused")
			}
			return nil
		}, 0); err != nil {
			return err
		}

		summary, err = api.NewDataSource("summary", api.DataSourceTypeSingle)
		if err != nil {
			return err
		}
		countF, err = summary.AddField("count", api.KindUint32)
		if err != nil {
			return err
		}
		arrOut, err = api.NewDataSource("arrout", api.DataSourceTypeArray)
		if err != nil {
			return err
		}
		arrValF, err = arrOut.AddField("v", api.KindInt16)
		if err != nil {
			return err
		}
		if err := summary.Subscribe(func(ds api.DataSource, d api.Data) error {
			c, _ := countF.Uint32(d)
			result("summary.seen", c)
			return nil
		}, 10); err != nil {
			return err
		}
		if err := summary.SubscribePacket(func(ds api.DataSource, p api.Packet) error {
			c, _ := countF.Uint32(api.Data(p))
			result("packet.seen", c)
			return nil
		}, 20); err != nil {
			return err
		}
		result("referenced", summary.IsReferenced())
		must("unreference", arrOut.Unreference())
		result("shouldlog.trace", api.ShouldLog(api.LevelTrace))
		return nil
	})
	api.OnPreStart(func() error {
		phase("prestart")
		return api.SetConfig("programs.prog.attach_to", "sys_enter_openat")
	})
	api.OnStart(func() error {
		phase("start")
		if err := api.SetConfig("late", "x"); err != nil {
			result("config.late", "refused")
		}
		var err error
		filterMap, err = api.GetMap("filter")
		if err != nil {
			return err
		}
		keys, _ := api.GetParamValue("keys")
		for _, k := range strings.Split(keys, ",") {
			n, err := strconv.Atoi(k)
			if err != nil {
				return err
			}
			if err := filterMap.Put(binary.LittleEndian.AppendUint32(nil, uint32(n)), []byte{1, 0, 0, 0}); err != nil {
				return err
			}
		}
		v := make([]byte, 4)
		if err := filterMap.Lookup(binary.LittleEndian.AppendUint32(nil, 99), v); err != nil {
			result("lookup.missing", "error")
		}
		must("delete", filterMap.Delete(binary.LittleEndian.AppendUint32(nil, 3)))
		if err := filterMap.Put([]byte{1}, []byte{1, 0, 0, 0}); err != nil {
			result("update.badkey", "refused")
		}
		own, err := api.NewMap(api.MapSpec{Name: "guest_own_map_long_name", Type: api.MapTypeHash, KeySize: 8, ValueSize: 8, MaxEntries: 16})
		if err != nil {
			return err
		}
		k := binary.LittleEndian.AppendUint64(nil, 7)
		must("own.put", own.Update(k, binary.LittleEndian.AppendUint64(nil, 42), api.UpdateNoExist))
		if err := own.Update(k, binary.LittleEndian.AppendUint64(nil, 43), api.UpdateNoExist); err != nil {
			result("own.noexist", "refused")
		}
		out := make([]byte, 8)
		must("own.lookup", own.Lookup(k, out))
		result("own.value", binary.LittleEndian.Uint64(out))
		must("own.close", own.Close())
		if err := own.Close(); err != nil {
			result("own.doubleclose", "refused")
		}

		nr, err := api.GetSyscallID("openat")
		if err != nil {
			return err
		}
		result("syscall.openat", nr)
		name, err := api.GetSyscallName(nr)
		if err != nil {
			return err
		}
		result("syscall.name", name)
		if _, err := api.GetSyscallID("no_such_call"); err != nil {
			result("syscall.unknown", "refused")
		}
		if _, err := api.GetSyscallName(100000); err != nil {
			result("syscall.badnr", "refused")
		}
		decl, err := api.GetSyscallDeclaration("openat")
		if err != nil {
			result("decl", "error")
		} else {
			var ps []string
			for _, p := range decl.Params {
				ps = append(ps, p.Type+"|"+p.Name+"|"+strconv.FormatBool(p.Pointer))
			}
			result("decl", decl.Name+"("+strings.Join(ps, ";")+")")
		}
		result("kallsyms.present", api.KallsymsSymbolExists("gadgetry_test_symbol"))
		result("kallsyms.absent", api.KallsymsSymbolExists("no_such_symbol"))
		result("mntns.discard.5", api.ShouldDiscardMntnsID(5))
		result("mntns.discard.6", api.ShouldDiscardMntnsID(6))

		pm, err := api.NewMap(api.MapSpec{Name: "perf", Type: api.MapTypePerfEvent, KeySize: 4, ValueSize: 4})
		if err != nil {
			return err
		}
		r, err := api.NewPerfReader(pm, 4096, false)
		if err != nil {
			return err
		}
		buf := make([]byte, 256)
		if _, err := r.Read(buf); errors.Is(err, api.ErrDrained) {
			result("perf.read", "drained")
		}
		must("perf.pause", r.Pause())
		must("perf.resume", r.Resume())
		must("perf.close", r.Close())
		must("perf.map.close", pm.Close())

		// A reader of the collection's perf array: the test writes a record before Stop.
		km, err := api.GetMap("events_perf")
		if err != nil {
			return err
		}
		if kernPerf, err = api.NewPerfReader(km, 4096, false); err != nil {
			return err
		}
		return nil
	})
	api.OnStop(func() error {
		phase("stop")
		buf := make([]byte, 64)
		for {
			rec, err := kernPerf.Read(buf)
			if err != nil {
				if !errors.Is(err, api.ErrDrained) {
					result("perf.kernel", "error")
				}
				break
			}
			result("perf.kernel", strings.TrimRight(string(rec), "\x00")) // the kernel pads samples
		}
		if _, err := kernPerf.Read(buf[:8]); !errors.Is(err, api.ErrDrained) {
			result("perf.kernel.after", "not drained")
		}
		must("perf.kernel.close", kernPerf.Close())
		p, err := summary.NewPacketSingle()
		if err != nil {
			return err
		}
		if err := countF.SetUint32(api.Data(p), uint32(events)); err != nil {
			return err
		}
		if err := summary.EmitAndRelease(p); err != nil {
			return err
		}
		pa, err := arrOut.NewPacketArray()
		if err != nil {
			return err
		}
		for k := 0; k < 3; k++ {
			d, err := api.DataArray(pa).New()
			if err != nil {
				return err
			}
			must("arr.set", arrValF.SetInt16(d, int16(-k)))
			must("arr.append", api.DataArray(pa).Append(d))
		}
		d, _ := api.DataArray(pa).New()
		must("arr.release", api.DataArray(pa).Release(d))
		result("arr.len", api.DataArray(pa).Len())
		if err := summary.EmitAndRelease(pa); err != nil {
			result("emit.wrongds", "refused")
		}
		if err := arrOut.EmitAndRelease(pa); err != nil {
			return err
		}
		p2, _ := summary.NewPacketSingle()
		must("release", summary.Release(p2))
		must("map.release", filterMap.Release())
		return nil
	})
	api.OnPostStop(func() error {
		phase("poststop")
		result("events", events)
		return nil
	})
}

func main() {}
