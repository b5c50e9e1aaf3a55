package datasource

import "testing"

// TestTimeSubscribers: the subscribers registered before the call are timed (each record they
// are handed counted once, whichever way it comes), later ones are not.
func TestTimeSubscribers(t *testing.T) {
	ds := New("exec", TypeSingle, 8)
	calls := 0
	ds.SubscribeBatch(0, func(*DataSource, *Data) error { calls++; return nil },
		func(_ *DataSource, b []*Data) ([]*Data, error) { calls += len(b); return b, nil })
	var st SubscriberTime
	ds.TimeSubscribers(&st)
	ds.Subscribe(10, func(*DataSource, *Data) error { return nil }) // not timed
	if _, err := ds.Emit(ds.NewData()); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.EmitBatch([]*Data{ds.NewData(), ds.NewData(), ds.NewData()}); err != nil {
		t.Fatal(err)
	}
	d, n := st.Total()
	if n != 4 || calls != 4 || d <= 0 {
		t.Errorf("timed %v for %d records (%d handled), want 4 records and some time", d, n, calls)
	}

	arr := New("snap", TypeArray, 8)
	arr.SubscribeArray(0, func(*DataSource, []*Data) error { return nil })
	var at SubscriberTime
	arr.TimeSubscribers(&at)
	if _, err := arr.EmitArray([]*Data{arr.NewData(), arr.NewData()}); err != nil {
		t.Fatal(err)
	}
	if _, n := at.Total(); n != 2 {
		t.Errorf("an array of 2 records counted as %d", n)
	}
}
