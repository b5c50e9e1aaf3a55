package datasource

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStaticAndAddedFields(t *testing.T) {
	ds := New("exec", TypeSingle, 16)
	pid, err := ds.AddStaticField("proc.pid", KindUint32, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	neg, _ := ds.AddStaticField("ret", KindInt32, 4, 4)
	comm, _ := ds.AddStaticField("comm", KindCString, 8, 8)
	if _, err := ds.AddStaticField("bad", KindUint64, 12, 8); err == nil {
		t.Fatal("field outside the record accepted")
	}
	d := ds.NewData()
	copy(d.Raw, []byte{42, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 'l', 's', 0, 'x'})
	extra, err := ds.AddField("extra", KindString) // after d was made
	if err != nil {
		t.Fatal(err)
	}
	if got := pid.Uint(d); got != 42 {
		t.Errorf("pid = %d", got)
	}
	if got := neg.Int(d); got != -2 {
		t.Errorf("ret = %d", got)
	}
	if got := comm.String(d); got != "ls" {
		t.Errorf("comm = %q", got)
	}
	if extra.IsSet(d) {
		t.Error("new field set")
	}
	_ = extra.SetString(d, "hello")
	_ = comm.SetString(d, "a-very-long-name")
	if got := comm.String(d); got != "a-very-" {
		t.Errorf("truncated comm = %q", got)
	}
	if got := extra.String(d); got != "hello" {
		t.Errorf("extra = %q", got)
	}
	if err := pid.SetString(d, "x"); err == nil {
		t.Error("string set on a number")
	}
}

func TestEmitOrderAndDrop(t *testing.T) {
	ds := New("x", TypeSingle, 0)
	var order []int
	ds.Subscribe(10, func(*DataSource, *Data) error { order = append(order, 10); return nil })
	ds.Subscribe(-5, func(*DataSource, *Data) error { order = append(order, -5); return ErrDrop })
	ds.Subscribe(0, func(*DataSource, *Data) error { order = append(order, 0); return nil })
	dropped, err := ds.Emit(ds.NewData())
	if err != nil || !dropped || len(order) != 1 || order[0] != -5 {
		t.Fatalf("dropped=%v err=%v order=%v", dropped, err, order)
	}
	ds2 := New("y", TypeSingle, 0)
	boom := errors.New("boom")
	ds2.Subscribe(0, func(*DataSource, *Data) error { return boom })
	if _, err := ds2.Emit(ds2.NewData()); !errors.Is(err, boom) {
		t.Fatal(err)
	}
}

func TestEmitArrayRecordSubscribers(t *testing.T) {
	ds := New("arr", TypeArray, 4)
	n, _ := ds.AddStaticField("n", KindUint32, 0, 4)
	tag, _ := ds.AddField("tag", KindString)
	// Record subscribers see each record first: one drops odd records, one tags the rest.
	ds.Subscribe(-10, func(_ *DataSource, d *Data) error {
		if n.Uint(d)%2 == 1 {
			return ErrDrop
		}
		return nil
	})
	ds.Subscribe(-5, func(_ *DataSource, d *Data) error { return tag.SetString(d, "even") })
	var got []uint64
	ds.SubscribeArray(0, func(_ *DataSource, arr []*Data) error {
		for _, d := range arr {
			if tag.String(d) != "even" {
				t.Errorf("record %d reached the array subscriber untagged", n.Uint(d))
			}
			got = append(got, n.Uint(d))
		}
		return nil
	})
	var arr []*Data
	for i := 0; i < 5; i++ {
		d := ds.NewData()
		_ = n.SetUint(d, uint64(i))
		arr = append(arr, d)
	}
	kept, err := ds.EmitArray(arr)
	if err != nil || len(kept) != 3 || len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 4 {
		t.Fatalf("kept %d, err %v, array subscriber saw %v; want 0 2 4", len(kept), err, got)
	}
	ds.SubscribeArray(1, func(*DataSource, []*Data) error { return ErrDrop })
	if kept, err := ds.EmitArray([]*Data{ds.NewData()}); err != nil || kept != nil {
		t.Errorf("array dropped by a subscriber: kept %v, err %v", kept, err)
	}
}

// TestEmitBatch: a batch passes each subscriber in priority order, a batch subscriber in one
// call and a record subscriber record by record, and what one drops reaches none after it;
// Emit gives a batch subscriber's single records to its record function.
func TestEmitBatch(t *testing.T) {
	ds := New("b", TypeSingle, 4)
	n, _ := ds.AddStaticField("n", KindUint32, 0, 4)
	var calls []string
	// A record subscriber drops multiples of 3.
	ds.Subscribe(-10, func(_ *DataSource, d *Data) error {
		calls = append(calls, "rec")
		if n.Uint(d)%3 == 0 {
			return ErrDrop
		}
		return nil
	})
	// A batch subscriber drops even records, in one call.
	var single []uint64
	ds.SubscribeBatch(-5, func(_ *DataSource, d *Data) error {
		single = append(single, n.Uint(d))
		return nil
	}, func(_ *DataSource, b []*Data) ([]*Data, error) {
		calls = append(calls, "batch")
		kept := b[:0]
		for _, d := range b {
			if n.Uint(d)%2 == 1 {
				kept = append(kept, d)
			}
		}
		return kept, nil
	})
	var last []uint64
	ds.Subscribe(0, func(_ *DataSource, d *Data) error { last = append(last, n.Uint(d)); return nil })
	var b []*Data
	for i := 0; i < 8; i++ {
		d := ds.NewData()
		_ = n.SetUint(d, uint64(i))
		b = append(b, d)
	}
	kept, err := ds.EmitBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 5, 7}; !slices.Equal(last, want) || len(kept) != 3 {
		t.Errorf("the last subscriber saw %v (kept %d), want %v", last, len(kept), want)
	}
	if want := "rec rec rec rec rec rec rec rec batch"; strings.Join(calls, " ") != want {
		t.Errorf("calls %q, want %q", strings.Join(calls, " "), want)
	}
	d := ds.NewData()
	_ = n.SetUint(d, 4)
	if dropped, err := ds.Emit(d); err != nil || dropped || !slices.Equal(single, []uint64{4}) {
		t.Errorf("Emit of a single record: dropped %v, err %v, record function saw %v", dropped, err, single)
	}
	boom := errors.New("boom")
	ds.SubscribeBatch(-20, nil, func(*DataSource, []*Data) ([]*Data, error) { return nil, boom })
	if _, err := ds.EmitBatch(b[:1]); !errors.Is(err, boom) {
		t.Errorf("a batch subscriber's error: got %v", err)
	}
}
