package wasmtest_test

import (
	"context"
	"encoding/binary"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// recordSize is sizeof(struct syscall_record) in program.bpf.c.
const recordSize = 776

// benchDataSource describes struct syscall_record without compiling the object (the layout
// newDataSource reads from BTF).
func benchDataSource(b *testing.B) *datasource.DataSource {
	ds := datasource.New("traceloop", datasource.TypeSingle, recordSize)
	for _, x := range recordLayout {
		if _, err := ds.AddStaticField(x.name, x.kind, x.off, x.size); err != nil {
			b.Fatal(err)
		}
	}
	return ds
}

// BenchmarkStream is the cost per record of traceloop --stream on a getppid flood, in batches
// of 256 records as the runtime drains them: the module (built with TinyGo, as the catalogue
// builds it) and the JSON output ("module"), the JSON output alone ("nomodule"), and the
// output of an args field a Go subscriber sets ("goargs"). Their ratio is what
// bench/wasmrate.sh measures end to end, without the kernel and the pipe. Metrics: the time
// in the subscribers between priorities -1 and 1 (module-ns/op: the module's), in the output
// (output-ns/op), and the process's CPU per record (cpu-ns/op), which other load on the
// machine moves less than the time.
func BenchmarkStream(b *testing.B) {
	for _, name := range []string{"nomodule", "goargs", "module"} {
		withModule := name == "module"
		b.Run(name, func(b *testing.B) {
			ds := benchDataSource(b)
			if name == "goargs" {
				// What the module does, in Go: an args field set on every record.
				args, err := ds.AddField("args", datasource.KindString)
				if err != nil {
					b.Fatal(err)
				}
				ds.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error {
					return args.SetBytes(d, nil)
				})
			}
			if withModule {
				module := gadgettest.WASMWith(b, "../go", build.ToolchainTinyGo)
				eng, err := wasm.NewEngine(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { eng.Close() })
				env := wasm.Env{
					DataSources: dataSources{ds},
					Param: func(key string) (string, bool) {
						v, ok := map[string]string{"syscall-filters": "", "stream": "true", "max-records": ""}[key]
						return v, ok
					},
					SetConfig: func(key, value string) error { return nil },
				}
				inst, err := eng.Instantiate(context.Background(), "traceloop", module, "sha256:traceloop-bench", env)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { inst.Close() })
				if err := inst.Init(); err != nil {
					b.Fatal(err)
				}
			}
			var modStart time.Time
			var modTime time.Duration
			keep := func(_ *datasource.DataSource, d *datasource.Data) error { return nil }
			ds.SubscribeBatch(-1, keep, func(_ *datasource.DataSource, batch []*datasource.Data) ([]*datasource.Data, error) {
				modStart = time.Now()
				return batch, nil
			})
			ds.SubscribeBatch(1, keep, func(_ *datasource.DataSource, batch []*datasource.Data) ([]*datasource.Data, error) {
				modTime += time.Since(modStart)
				return batch, nil
			})
			w := output.New(io.Discard, output.JSON, output.DefaultFields(ds, output.JSON), format.New())
			var outTime time.Duration
			write := func(_ *datasource.DataSource, d *datasource.Data) error { return w.Write(d) }
			ds.SubscribeBatch(1000, write, func(_ *datasource.DataSource, batch []*datasource.Data) ([]*datasource.Data, error) {
				start := time.Now()
				for _, d := range batch {
					if err := w.Write(d); err != nil {
						return nil, err
					}
				}
				outTime += time.Since(start)
				return batch, nil
			})
			const batch = 256
			pool := make([]*datasource.Data, batch)
			for k := range pool {
				pool[k] = ds.NewData()
			}
			raw := getppidRecord()
			recs := make([]*datasource.Data, 0, batch)
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				recs = recs[:0]
				for k := 0; k < batch && n+k < b.N; k++ {
					d := pool[k]
					ds.Reset(d)
					copy(d.Raw, raw)
					binary.LittleEndian.PutUint64(d.Raw[0:], uint64(n+k))
					recs = append(recs, d)
				}
				if _, err := ds.EmitBatch(recs); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(modTime.Nanoseconds())/float64(b.N), "module-ns/op")
			b.ReportMetric(float64(outTime.Nanoseconds())/float64(b.N), "output-ns/op")
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// getppidRecord is a syscall_record of a getppid call as the kernel side writes it.
func getppidRecord() []byte {
	r := make([]byte, recordSize)
	le := binary.LittleEndian
	copy(r[8:], "wrflood")
	le.PutUint32(r[24:], 4028)
	le.PutUint32(r[28:], 4028)
	le.PutUint64(r[32:], 4026531832)
	copy(r[48:], "prof.sh")
	le.PutUint32(r[64:], 3982)
	le.PutUint32(r[68:], 3982)
	le.PutUint64(r[72:], 110) // getppid on x86-64
	le.PutUint64(r[104:], 1<<64-1)
	le.PutUint64(r[120:], 400000)
	le.PutUint64(r[128:], 3982)
	le.PutUint64(r[144:], 1182)
	return r
}

// processCPU is the CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// recordLayout is struct syscall_record: its fields, kinds, offsets and sizes.
var recordLayout = []struct {
	name      string
	kind      datasource.Kind
	off, size int
}{
	{"timestamp_raw", datasource.KindUint64, 0, 8},
	{"proc.comm", datasource.KindCString, 8, 16}, {"proc.pid", datasource.KindUint32, 24, 4},
	{"proc.tid", datasource.KindUint32, 28, 4}, {"proc.mntns_id", datasource.KindUint64, 32, 8},
	{"proc.creds.uid", datasource.KindUint32, 40, 4}, {"proc.creds.gid", datasource.KindUint32, 44, 4},
	{"proc.parent.comm", datasource.KindCString, 48, 16}, {"proc.parent.pid", datasource.KindUint32, 64, 4},
	{"proc.parent.tid", datasource.KindUint32, 68, 4}, {"syscall_raw", datasource.KindUint64, 72, 8},
	{"arg0", datasource.KindUint64, 80, 8}, {"arg1", datasource.KindUint64, 88, 8},
	{"arg2", datasource.KindUint64, 96, 8}, {"arg3", datasource.KindUint64, 104, 8},
	{"arg4", datasource.KindUint64, 112, 8}, {"arg5", datasource.KindUint64, 120, 8},
	{"ret", datasource.KindInt64, 128, 8}, {"error_raw", datasource.KindUint32, 136, 4},
	{"duration_raw", datasource.KindUint64, 144, 8},
	{"str0", datasource.KindCString, 152, 256}, {"str1", datasource.KindCString, 408, 256},
	{"sockaddr", datasource.KindBytes, 664, 112},
}
