package datasource

import (
	"sync/atomic"
	"time"
)

// SubscriberTime adds up the time spent in the subscribers TimeSubscribers wrapped and the
// records they were handed. It is safe for concurrent use.
type SubscriberTime struct {
	ns      atomic.Int64
	records atomic.Uint64
}

// Total returns the time spent and the records handed so far.
func (t *SubscriberTime) Total() (time.Duration, uint64) {
	return time.Duration(t.ns.Load()), t.records.Load()
}

func (t *SubscriberTime) add(start time.Time, records int) {
	t.ns.Add(int64(time.Since(start)))
	t.records.Add(uint64(records))
}

// TimeSubscribers makes the subscribers registered on ds so far add the time each call takes,
// and the records it is handed, to t. Subscribers registered later are not timed. A daemon
// calls it right after the gadget's WASM guest subscribed (its Init) to measure the guest's
// time per event.
func (ds *DataSource) TimeSubscribers(t *SubscriberTime) {
	for i := range ds.subs {
		s := &ds.subs[i]
		if fn := s.fn; fn != nil {
			s.fn = func(ds *DataSource, d *Data) error {
				start := time.Now()
				err := fn(ds, d)
				t.add(start, 1)
				return err
			}
		}
		if fn := s.batchFn; fn != nil {
			s.batchFn = func(ds *DataSource, batch []*Data) ([]*Data, error) {
				start := time.Now()
				n := len(batch)
				kept, err := fn(ds, batch)
				t.add(start, n)
				return kept, err
			}
		}
		if fn := s.arrFn; fn != nil {
			s.arrFn = func(ds *DataSource, arr []*Data) error {
				start := time.Now()
				err := fn(ds, arr)
				t.add(start, len(arr))
				return err
			}
		}
	}
}
