package recorder

import (
	"reflect"
	"testing"
)

func TestKeepsLastNPerKeyOrderedByTime(t *testing.T) {
	r := New[string](2)
	r.Add(1, 10, "c1-a")
	r.Add(2, 5, "c2-a")
	r.Add(1, 30, "c1-b")
	r.Add(1, 20, "c1-c") // pushes c1-a out; entered before c1-b (returned after it)
	r.Add(0, 25, "host")
	if r.Len() != 4 || r.Dropped() != 1 {
		t.Fatalf("Len %d Dropped %d, want 4 and 1", r.Len(), r.Dropped())
	}
	got := r.Drain()
	want := []string{"c2-a", "c1-c", "host", "c1-b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Drain() = %q, want %q", got, want)
	}
	if r.Len() != 0 || len(r.Drain()) != 0 {
		t.Error("Drain did not empty the recorder")
	}
}

func TestEqualTimesKeepInsertionOrder(t *testing.T) {
	r := New[int](10)
	for i := 0; i < 5; i++ {
		r.Add(uint64(i%2), 7, i)
	}
	if got := r.Drain(); !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("got %v", got)
	}
}

func TestBounded(t *testing.T) {
	r := New[int](3)
	for i := 0; i < 1000; i++ {
		r.Add(42, uint64(i), i)
	}
	if got := r.Drain(); !reflect.DeepEqual(got, []int{997, 998, 999}) {
		t.Errorf("got %v, want the last three", got)
	}
	if New[int](0).perKey != 1 {
		t.Error("perKey below 1 not raised to 1")
	}
}
