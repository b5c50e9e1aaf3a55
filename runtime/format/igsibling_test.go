package format

import (
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/decode"
)

// TestSyscallSiblingValue: a filter value for the syscall made from a gadget_syscall
// syscall_raw, shown as SYS_OPENAT, may be written openat, OPENAT or SYS_OPENAT, and compares
// with the shown text; a number compares with the number. An errno name for the error made
// from a gadget_errno error_raw compares as its number, so that EOPNOTSUPP selects what is
// shown as ENOTSUP.
func TestSyscallSiblingValue(t *testing.T) {
	fm := New()
	if fm.sysTable == nil {
		t.Skip("no syscall table for this architecture")
	}
	if _, ok := fm.sysTable.Number("openat"); !ok {
		t.Skip("no openat here")
	}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	ds, err := decode.DataSource("ev", &btf.Struct{Name: "ev", Size: 12, Members: []btf.Member{
		{Name: "syscall_raw", Type: &btf.Typedef{Name: "gadget_syscall", Type: u64}},
		{Name: "error_raw", Type: &btf.Typedef{Name: "gadget_errno", Type: &btf.Int{Name: "unsigned int", Size: 4}}, Offset: 64},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f := ds.Field("syscall")
	for _, s := range []string{"openat", "OPENAT", "SYS_OPENAT", "sys_openat"} {
		v, err := fm.ParseValue(f, s)
		if err != nil || v.Numeric || v.Text != "SYS_OPENAT" {
			t.Errorf("%s: %+v, %v; want the text SYS_OPENAT", s, v, err)
		}
	}
	if v, err := fm.ParseValue(f, "257"); err != nil || !v.Numeric || v.Num != 257 {
		t.Errorf("257: %+v, %v", v, err)
	}
	if _, err := fm.ParseValue(f, "SYS_NOSUCHCALL"); err == nil {
		t.Error("SYS_NOSUCHCALL taken")
	}
	e := ds.Field("error")
	for s, n := range map[string]float64{"EOPNOTSUPP": 95, "ENOTSUP": 95, "ENOENT": 2, "EUCLEAN": 117, "EFSCORRUPTED": 117} {
		if v, err := fm.ParseValue(e, s); err != nil || !v.Numeric || v.Num != n {
			t.Errorf("error==%s: %+v, %v; want the number %v", s, v, err, n)
		}
	}
}
