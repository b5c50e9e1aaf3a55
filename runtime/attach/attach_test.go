package attach

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for sec, want := range map[string]struct {
		kind   Kind
		target string
	}{
		"tracepoint/sched/sched_process_exec": {Tracepoint, "sched/sched_process_exec"},
		"tp/syscalls/sys_enter_openat":        {Tracepoint, "syscalls/sys_enter_openat"},
		"raw_tracepoint/sched_switch":         {RawTracepoint, "sched_switch"},
		"raw_tp/sched_switch":                 {RawTracepoint, "sched_switch"},
		"tp_btf/sched_switch":                 {TPBTF, "sched_switch"},
		"fentry/do_unlinkat":                  {FEntry, "do_unlinkat"},
		"fentry.s/do_unlinkat":                {FEntry, "do_unlinkat"},
		"fexit/do_unlinkat":                   {FExit, "do_unlinkat"},
		"lsm/bprm_check_security":             {LSM, "bprm_check_security"},
		"lsm.s/bprm_check_security":           {LSM, "bprm_check_security"},
		"kprobe/do_sys_openat2":               {Kprobe, "do_sys_openat2"},
		"kretprobe/do_sys_openat2":            {Kretprobe, "do_sys_openat2"},
		"uprobe//usr/lib/libc.so.6:malloc":    {Uprobe, "/usr/lib/libc.so.6:malloc"},
		"uretprobe//bin/bash:readline":        {Uretprobe, "/bin/bash:readline"},
		"iter/task":                           {Iter, "task"},
	} {
		k, tgt, err := Parse(sec)
		if err != nil || k != want.kind || tgt != want.target {
			t.Errorf("Parse(%q) = %s, %q, %v; want %s, %q", sec, k, tgt, err, want.kind, want.target)
		}
	}
	if _, _, err := Parse("socket/foo"); !errors.Is(err, ErrUnknownSection) {
		t.Errorf("unknown section: %v", err)
	}
	if !FEntry.NeedsTargetAtLoad() || Tracepoint.NeedsTargetAtLoad() {
		t.Error("NeedsTargetAtLoad")
	}
}
