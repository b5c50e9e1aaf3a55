package wasmapi_test

import (
	"encoding/binary"
	"strings"

	"github.com/gadgetry/gadgetry/wasmapi"
)

// A gadget adds a computed field and drops events by a parameter.
func ExampleOnInit() {
	wasmapi.OnInit(func() error {
		ds, err := wasmapi.GetDataSource("exec")
		if err != nil {
			return err
		}
		comm, err := ds.GetField("proc.comm")
		if err != nil {
			return err
		}
		upper, err := ds.AddField("comm_upper", wasmapi.KindString)
		if err != nil {
			return err
		}
		skip, _ := wasmapi.GetParamValue("skip-comm")
		return ds.Subscribe(func(ds wasmapi.DataSource, d wasmapi.Data) error {
			c, err := comm.String(d)
			if err != nil {
				return err
			}
			if c == skip {
				return wasmapi.ErrDrop
			}
			return upper.SetString(d, strings.ToUpper(c))
		}, 0)
	})
}

// A gadget fills a BPF map from a parameter list so the kernel filters.
func ExampleGetMap() {
	wasmapi.OnStart(func() error {
		m, err := wasmapi.GetMap("syscall_filter")
		if err != nil {
			return err
		}
		defer m.Release()
		list, _ := wasmapi.GetParamValue("syscalls")
		for _, name := range strings.Split(list, ",") {
			nr, err := wasmapi.GetSyscallID(name)
			if err != nil {
				return err
			}
			key := binary.LittleEndian.AppendUint32(nil, uint32(nr))
			if err := m.Put(key, []byte{1}); err != nil {
				return err
			}
		}
		return nil
	})
}

type myGadget struct{ ds wasmapi.DataSource }

func (g *myGadget) Init() (err error) {
	g.ds, err = wasmapi.NewDataSource("summary", wasmapi.DataSourceTypeSingle)
	return err
}

func (g *myGadget) Stop() error {
	p, err := g.ds.NewPacketSingle()
	if err != nil {
		return err
	}
	return g.ds.EmitAndRelease(p)
}

// A gadget can implement the hook interfaces instead of calling OnInit...
func ExampleRegister() {
	wasmapi.Register(&myGadget{})
}

func ExampleGetSyscallDeclaration() {
	d, err := wasmapi.GetSyscallDeclaration("openat")
	if err != nil {
		wasmapi.Errorf("%v", err)
		return
	}
	for _, p := range d.Params {
		wasmapi.Infof("%s %s", p.Type, p.Name)
	}
}
