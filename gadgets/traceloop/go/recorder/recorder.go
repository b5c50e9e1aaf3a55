// Package recorder is traceloop's flight recorder: it keeps the last N records of each
// container (and of the host) and gives them back ordered by time when the run ends. Memory is
// bounded by N records per container seen. It has no dependencies.
package recorder

import "sort"

// Recorder keeps the last PerKey records of each key (a container's mount namespace id).
// The zero value is not usable: call New.
type Recorder[T any] struct {
	perKey  int
	rings   map[uint64]*ring[T]
	dropped uint64
	seq     uint64 // order of Add, to keep records with equal times stable
}

type entry[T any] struct {
	ts  uint64
	seq uint64
	v   T
}

type ring[T any] struct {
	buf  []entry[T]
	next int // where the next entry goes once buf is full
}

// New returns a recorder keeping at most perKey records per key (at least 1).
func New[T any](perKey int) *Recorder[T] {
	if perKey < 1 {
		perKey = 1
	}
	return &Recorder[T]{perKey: perKey, rings: map[uint64]*ring[T]{}}
}

// Add records v, taken at time ts, for key; the oldest record of key goes when it has PerKey.
func (r *Recorder[T]) Add(key, ts uint64, v T) {
	rg := r.rings[key]
	if rg == nil {
		rg = &ring[T]{}
		r.rings[key] = rg
	}
	r.seq++
	e := entry[T]{ts: ts, seq: r.seq, v: v}
	if len(rg.buf) < r.perKey {
		rg.buf = append(rg.buf, e)
		return
	}
	rg.buf[rg.next] = e
	rg.next = (rg.next + 1) % r.perKey
	r.dropped++
}

// Dropped returns how many records were pushed out by newer ones since New.
func (r *Recorder[T]) Dropped() uint64 { return r.dropped }

// Len returns the number of records kept.
func (r *Recorder[T]) Len() int {
	n := 0
	for _, rg := range r.rings {
		n += len(rg.buf)
	}
	return n
}

// Drain returns every record kept, all keys merged, ordered by time (records with equal times
// in the order they were added), and empties the recorder.
func (r *Recorder[T]) Drain() []T {
	var all []entry[T]
	for _, rg := range r.rings {
		all = append(all, rg.buf...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ts != all[j].ts {
			return all[i].ts < all[j].ts
		}
		return all[i].seq < all[j].seq
	})
	out := make([]T, len(all))
	for i, e := range all {
		out[i] = e.v
	}
	r.rings = map[uint64]*ring[T]{}
	return out
}
