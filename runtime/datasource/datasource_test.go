package datasource

import (
	"errors"
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
