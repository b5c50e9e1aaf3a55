package runtime

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Array data sources: iterator snapshots (gadget_iter_) and map dumps (gadget_mapiter_). Both
// are emitted by the stream goroutine (loop), like the tracers' records, so subscribers are
// never called concurrently: the snapshots once after attaching, the map dumps on a ticker
// every map-fetch-interval and once more when the run stops, after detaching.

// mapDump is the run-time state of one map iterator.
type mapDump struct {
	ds     *datasource.DataSource
	m      *ebpf.Map
	name   string // the map's name, for errors
	counts *Counts
	// ksize and vsize are the key's and value's sizes; keys and values are reused buffers of
	// batch entries, slices of [ksize]byte and [vsize]byte (cilium/ebpf counts entries by the
	// slices' lengths).
	ksize, vsize int
	keys, values reflect.Value
	// noBatch is set once the kernel refused batch operations on the map.
	noBatch bool
}

// dumpBatch is the most entries one batch system call reads.
const dumpBatch = 4096

// openDumps prepares the map dumps and the counts of every array data source.
func (r *Run) openDumps() error {
	for _, it := range r.g.Iters {
		r.arrayCounts(it.DataSource)
	}
	for _, mi := range r.g.MapIters {
		m := r.coll.Maps[mi.Map]
		if m == nil {
			return fmt.Errorf("gadget %s: map iterator %s: map %s was not loaded", r.g.Name, mi.DataSource, mi.Map)
		}
		d := &mapDump{ds: r.DataSource(mi.DataSource), m: m, name: mi.Map, counts: r.arrayCounts(mi.DataSource),
			ksize: int(m.KeySize()), vsize: int(m.ValueSize()), noBatch: r.dumpFallback}
		if d.ksize+d.vsize != d.ds.RecordSize() {
			return fmt.Errorf("gadget %s: map iterator %s: map %s has %d-byte keys and %d-byte values but its BTF types take %d bytes", r.g.Name, mi.DataSource, mi.Map, d.ksize, d.vsize, d.ds.RecordSize())
		}
		n := min(int(m.MaxEntries()), dumpBatch)
		d.keys = reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(d.ksize, reflect.TypeFor[byte]())), n, n)
		d.values = reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(d.vsize, reflect.TypeFor[byte]())), n, n)
		r.dumps = append(r.dumps, d)
	}
	return nil
}

func (r *Run) arrayCounts(ds string) *Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &Counts{}
	r.summary.DataSources[ds] = c
	return c
}

// mapFetchInterval is the run's map-fetch-interval (0: dump only when the run stops).
func (r *Run) mapFetchInterval() time.Duration {
	v, _ := r.ParamValue(MapFetchIntervalParam)
	d, err := parseFetchInterval(v)
	if err != nil {
		return 0 // validated when the run started
	}
	return d
}

// takeSnapshots reads every iterator once and emits its records as one array.
func (r *Run) takeSnapshots() error {
	if len(r.g.Iters) == 0 {
		return nil
	}
	for _, it := range r.g.Iters {
		if err := r.snapshot(it); err != nil {
			return err
		}
	}
	if r.opts.AfterDrain != nil {
		r.opts.AfterDrain()
	}
	return nil
}

func (r *Run) snapshot(it *Iter) error {
	ds := r.DataSource(it.DataSource)
	l, ok := r.links[it.Program].(*link.Iter)
	if !ok {
		// Disabled in gadget.yaml or skipped as optional: there is nothing to read.
		r.rt.log.Warn(fmt.Sprintf("gadget %s: iterator %s: program %s is not attached, so there is no snapshot", r.g.Name, it.DataSource, it.Program))
		return nil
	}
	rc, err := l.Open()
	if err != nil {
		return fmt.Errorf("gadget %s: iterator %s: opening the iterator of program %s: %w", r.g.Name, it.DataSource, it.Program, err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("gadget %s: iterator %s: reading the iterator of program %s: %w", r.g.Name, it.DataSource, it.Program, err)
	}
	size := int(it.Struct.Size)
	if len(b)%size != 0 {
		return fmt.Errorf("gadget %s: iterator %s: program %s wrote %d bytes, which is not a whole number of %d-byte records (struct %s); write each record whole with bpf_seq_write(seq, &rec, sizeof(rec))",
			r.g.Name, it.DataSource, it.Program, len(b), size, it.Struct.Name)
	}
	arr := make([]*datasource.Data, 0, len(b)/size)
	for off := 0; off < len(b); off += size {
		d := ds.NewData()
		copy(d.Raw, b[off:off+size])
		arr = append(arr, d)
	}
	r.mu.Lock()
	c := r.summary.DataSources[ds.Name]
	r.mu.Unlock()
	return r.emitArray(ds, c, arr)
}

func (r *Run) emitArray(ds *datasource.DataSource, c *Counts, arr []*datasource.Data) error {
	n := len(arr)
	kept, err := ds.EmitArray(arr)
	r.mu.Lock()
	c.Events += uint64(n)
	c.Dropped += uint64(n - len(kept))
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gadget %s: data source %s: %w", r.g.Name, ds.Name, err)
	}
	return nil
}

// dumpMaps empties every dumped map and emits what it held, one array per map.
func (r *Run) dumpMaps() error {
	if len(r.dumps) == 0 {
		return nil
	}
	var errs []error
	for _, d := range r.dumps {
		arr, err := r.readAndDelete(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("gadget %s: map iterator %s: dumping map %s: %w", r.g.Name, d.ds.Name, d.name, err))
			if len(arr) == 0 {
				continue
			}
			// Entries read before the error are deleted from the map: emit them.
		}
		if err := r.emitArray(d.ds, d.counts, arr); err != nil {
			errs = append(errs, err)
		}
	}
	if r.opts.AfterDrain != nil {
		r.opts.AfterDrain()
	}
	return errors.Join(errs...)
}

// readAndDelete reads and deletes every entry of d's map: in batches where the kernel can
// (each batch is taken atomically per hash bucket, so no update between the read and the
// delete is lost), else key by key. On error it also returns the entries it already deleted.
func (r *Run) readAndDelete(d *mapDump) ([]*datasource.Data, error) {
	if !d.noBatch {
		arr, err := r.batchDump(d)
		if err == nil || len(arr) > 0 || !errors.Is(err, ebpf.ErrNotSupported) {
			return arr, err
		}
		d.noBatch = true
		r.rt.log.Warn(fmt.Sprintf("gadget %s: map iterator %s: the kernel cannot read map %s in batches (%v); reading and deleting key by key, which can lose updates made in between", r.g.Name, d.ds.Name, d.name, err))
	}
	return r.keyDump(d)
}

func (r *Run) batchDump(d *mapDump) ([]*datasource.Data, error) {
	var arr []*datasource.Data
	var cursor ebpf.MapBatchCursor
	keys, values := d.keys.Interface(), d.values.Interface()
	kb := unsafe.Slice((*byte)(d.keys.UnsafePointer()), d.keys.Len()*d.ksize)
	vb := unsafe.Slice((*byte)(d.values.UnsafePointer()), d.values.Len()*d.vsize)
	for {
		n, err := d.m.BatchLookupAndDelete(&cursor, keys, values, nil)
		for i := 0; i < n; i++ {
			arr = append(arr, d.record(kb[i*d.ksize:(i+1)*d.ksize], vb[i*d.vsize:(i+1)*d.vsize]))
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return arr, nil
		}
		if err != nil {
			if len(arr) > 0 {
				return arr, fmt.Errorf("after reading %d entries: %w", len(arr), err)
			}
			return nil, err
		}
	}
}

// keyDump collects the keys first (deleting while walking could restart the walk), then reads
// and deletes each entry.
func (r *Run) keyDump(d *mapDump) ([]*datasource.Data, error) {
	var keys [][]byte
	seen := map[string]bool{}
	var key any // nil: the first key
	// A key the gadget deletes during the walk makes the kernel restart it from the first key:
	// skip keys seen before and stop after as many keys as the map can hold.
	for len(keys) < int(d.m.MaxEntries()) {
		next, err := d.m.NextKeyBytes(key)
		if err != nil {
			return nil, fmt.Errorf("walking the keys: %w", err)
		}
		if next == nil {
			break
		}
		if !seen[string(next)] {
			seen[string(next)] = true
			keys = append(keys, next)
		}
		key = next
	}
	arr := make([]*datasource.Data, 0, len(keys))
	value := make([]byte, d.vsize)
	lookupAndDelete := true
	for _, k := range keys {
		var err error
		if lookupAndDelete {
			err = d.m.LookupAndDelete(k, value)
			if errors.Is(err, ebpf.ErrNotSupported) {
				lookupAndDelete = false
			}
		}
		if !lookupAndDelete {
			if err = d.m.Lookup(k, value); err == nil {
				err = d.m.Delete(k)
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			continue // deleted by the gadget (or evicted) since the walk
		}
		if err != nil {
			return arr, err
		}
		arr = append(arr, d.record(k, value))
	}
	return arr, nil
}

func (d *mapDump) record(key, value []byte) *datasource.Data {
	rec := d.ds.NewData()
	copy(rec.Raw, key)
	copy(rec.Raw[d.ksize:], value)
	return rec
}
