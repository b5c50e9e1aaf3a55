package wasm

import (
	"fmt"
	"time"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// SlowCallback is the guest time per record above which a run warns, once, that its module
// cannot keep up: at 100 µs a record a guest handles at most 10,000 records a second.
const SlowCallback = 100 * time.Microsecond

// slowAfter is how many records the slow-guest warning averages over before it speaks.
const slowAfter = 256

// batchSubscriber returns the batch function of a guest subscription to a single data source:
// through the guest's batch export when it asked for batches of ds (a version 2 field copy),
// else one dataSourceCallback per record.
func (i *Instance) batchSubscriber(ds *datasource.DataSource, dsh uint32, cbID uint64) datasource.BatchSubscriber {
	one := i.subscriber(ds, dsh, cbID)
	return func(_ *datasource.DataSource, batch []*datasource.Data) ([]*datasource.Data, error) {
		fc := i.batchCopy(dsh)
		if fc == nil {
			return datasource.Keep(ds, batch, one)
		}
		kept := batch[:0]
		for len(batch) > 0 {
			n := min(len(batch), int(fc.batch))
			var err error
			var pending []pendingEmit
			kept, pending, err = i.callBatch(fc, ds, dsh, cbID, batch[:n], kept)
			i.flush(pending)
			if err != nil {
				return nil, err
			}
			batch = batch[n:]
		}
		return kept, nil
	}
}

// recordSubscriber returns the record function of a guest subscription to a single data
// source: a batch of one record when the guest takes batches of ds (so that its field copy
// serves single records too), else one dataSourceCallback.
func (i *Instance) recordSubscriber(ds *datasource.DataSource, dsh uint32, cbID uint64) datasource.Subscriber {
	one := i.subscriber(ds, dsh, cbID)
	return func(_ *datasource.DataSource, d *datasource.Data) error {
		fc := i.batchCopy(dsh)
		if fc == nil {
			return one(ds, d)
		}
		var rec [1]*datasource.Data
		rec[0] = d
		kept, pending, err := i.callBatch(fc, ds, dsh, cbID, rec[:], rec[:0])
		drop := len(kept) == 0
		i.flush(pending)
		if err != nil {
			return err
		}
		if drop {
			return datasource.ErrDrop
		}
		return nil
	}
}

// batchCopy returns the version 2 field copy of data source handle dsh, or nil.
func (i *Instance) batchCopy(dsh uint32) *fieldCopy {
	i.mu.Lock()
	defer i.mu.Unlock()
	if dsh < uint32(len(i.batches)) {
		return i.batches[dsh]
	}
	return nil
}

// callBatch runs the guest's batch export on records (at most fc.batch of them) and appends
// those it did not drop to kept (which may share records' array up to records' first
// element). The packets the guest emitted are returned, for the caller to flush once it no
// longer needs records or kept: a flush can call the guest again.
func (i *Instance) callBatch(fc *fieldCopy, ds *datasource.DataSource, dsh uint32, cbID uint64, records, kept []*datasource.Data) ([]*datasource.Data, []pendingEmit, error) {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return append(kept, records...), nil, nil // events pass through a closed instance untouched
	}
	if i.failed != nil {
		err := i.failed
		i.mu.Unlock()
		return nil, nil, err
	}
	i.bhs, i.bds = i.bhs[:0], append(i.bds[:0], records...)
	for _, d := range records {
		i.bhs = append(i.bhs, i.h.add(entry{kind: kData, ds: ds, obj: d, temp: true}))
	}
	fc.fillBatch(i, i.bhs, i.bds)
	i.stack[0], i.stack[1], i.stack[2] = cbID, uint64(dsh), uint64(len(records))
	i.begin("dataSourceCallback", i.callbackTimeout*time.Duration(len(records)))
	start := time.Now()
	err := i.batchFn.CallWithStack(i.ctx, i.stack[:])
	i.account(time.Since(start), len(records))
	i.end()
	for _, h := range i.bhs {
		i.h.release(h)
	}
	i.releaseTemps()
	i.callbacks.Add(uint64(len(records)))
	if err != nil {
		err = i.callError("dataSourceCallback", err)
	} else {
		i.survivedRefusal("dataSourceCallback")
		var wbBuf []byte
		if fc.wb != nil {
			wbBuf, _ = i.mod.Memory().Read(fc.wb.ptr, fc.wb.cap)
		}
		for k, d := range i.bds {
			if fc.dropped(i, k) {
				i.dropped.Add(1)
				continue
			}
			if wbBuf != nil {
				fc.wb.apply(i, i.mod.Memory(), wbBuf, k, d)
			}
			kept = append(kept, d)
		}
	}
	clear(i.bds)
	var pending []pendingEmit
	if len(i.pending) > 0 {
		pending = i.takePending()
	}
	i.mu.Unlock()
	if err != nil {
		return nil, pending, err
	}
	return kept, pending, nil
}

// account adds a data callback's time and records to the instance's totals, and warns once
// when the guest averages more than SlowCallback a record. mu is held.
func (i *Instance) account(d time.Duration, records int) {
	i.guestTime += d
	i.guestRecords += uint64(records)
	if i.slowWarned || i.guestRecords < slowAfter {
		return
	}
	per := i.guestTime / time.Duration(i.guestRecords)
	if per <= SlowCallback {
		return
	}
	i.slowWarned = true
	i.log.Warn(fmt.Sprintf("gadget %s: its wasm module takes %v per event in its data callbacks (over %v): it can handle about %d events a second, and records beyond that are lost in the kernel ring",
		i.name, per.Round(time.Microsecond), SlowCallback, int(time.Second/per)))
}
